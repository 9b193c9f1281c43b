/* Matroska mux and demux for ARG (a C API over libebml + libmatroska).
 *
 * The writer makes a file with an ARG video track (CodecID V_ARG, the sequence
 * header in CodecPrivate), an optional Opus audio track, Info (duration,
 * muxing/writing app), Tags, Cues on video keyframes and a SeekHead. It writes
 * to PATH.tmp.XXXXXX and renames onto PATH only on a successful close.
 * The reader validates sizes before use, tolerates unknown elements, finds
 * tracks by type and seeks through Cues. All functions return 0 or a negative
 * errno; messages go to the err buffer given at open. */
#ifndef ARG_MKV_H
#define ARG_MKV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MKV_MAX_PRIVATE (1 << 20)     /* CodecPrivate bound */
#define MKV_MAX_FRAME (64 << 20)      /* one block's payload bound */

enum { MKV_TRACK_VIDEO = 1, MKV_TRACK_AUDIO = 2 };

typedef struct MkvVideoInfo {
    int width, height;                 /* coded pixel size */
    int display_width, display_height;
    uint64_t default_duration_ns;      /* of one block (0: none) */
    int matrix, range, primaries, transfer; /* Matroska Colour values, 0 = unset */
    const uint8_t *codec_private;
    size_t codec_private_size;
} MkvVideoInfo;

typedef struct MkvAudioInfo {
    int sample_rate, channels;
    uint64_t codec_delay_ns, seek_preroll_ns;
    const uint8_t *codec_private;      /* OpusHead */
    size_t codec_private_size;
} MkvAudioInfo;

typedef struct MkvTag {
    const char *name, *value;
} MkvTag;

typedef struct MkvWriter MkvWriter;

/* audio may be NULL; tags: n_tags name/value pairs (global). */
int mkv_writer_open(MkvWriter **out, const char *path, const MkvVideoInfo *video,
                    const MkvAudioInfo *audio, const MkvTag *tags, int n_tags,
                    char *err, size_t errlen);
/* Blocks must come in non-decreasing timestamp order per track; a video
 * keyframe starts a new cluster and gets a cue point. duration_ns: of this
 * block (0 = the track default). */
int mkv_write_block(MkvWriter *w, int track_type, uint64_t pts_ns, uint64_t duration_ns,
                    int keyframe, const uint8_t *data, size_t size);
/* The same as a BlockGroup that states its duration (BlockDuration, > 0):
 * for the last block of a file, whose true end tools such as mkvmerge's
 * append (a.mkv + b.mkv) then use instead of the track's default duration. */
int mkv_write_block_duration(MkvWriter *w, int track_type, uint64_t pts_ns, uint64_t duration_ns,
                             int keyframe, const uint8_t *data, size_t size);
/* Add a global tag (written at close), e.g. a figure known only at the end. */
int mkv_writer_add_tag(MkvWriter *w, const char *name, const char *value);
/* Replace the video CodecPrivate (same size as at open) before closing, e.g.
 * to record the final frame count; the Tracks element is rewritten in place. */
int mkv_writer_set_video_private(MkvWriter *w, const uint8_t *data, size_t size);
/* commit = 1: finish (cues, duration, seek head) and rename into place;
 * commit = 0: abort and remove the temporary file. Frees w. */
int mkv_writer_close(MkvWriter *w, int commit);
/* The temporary file the writer writes (PATH.tmp.XXXXXX), for a tool that
 * must remove it when stopped by a signal. Valid until close. */
const char *mkv_writer_tmp_path(const MkvWriter *w);

typedef struct MkvTrack {
    int type;                          /* MKV_TRACK_VIDEO / MKV_TRACK_AUDIO / 0 other */
    int number;
    char codec_id[64];
    uint8_t *codec_private;
    size_t codec_private_size;
    uint64_t default_duration_ns;
    int width, height, display_width, display_height;
    int matrix, range, primaries, transfer;
    double sample_rate;
    int channels;
    uint64_t codec_delay_ns, seek_preroll_ns;
} MkvTrack;

typedef struct MkvPacket {
    int track_type;                    /* of the track the block belongs to */
    int track_number;
    uint64_t pts_ns;
    int keyframe;
    const uint8_t *data;               /* valid until the next read */
    size_t size;
} MkvPacket;

typedef struct MkvReader MkvReader;

int mkv_reader_open(MkvReader **out, const char *path, char *err, size_t errlen);
void mkv_reader_close(MkvReader *r);
int mkv_reader_track_count(const MkvReader *r);
const MkvTrack *mkv_reader_track(const MkvReader *r, int i);
/* First track of a type, or NULL. */
const MkvTrack *mkv_reader_find_track(const MkvReader *r, int type);
double mkv_reader_duration_ns(const MkvReader *r);
/* Global tag value by name, or NULL. */
const char *mkv_reader_tag(const MkvReader *r, const char *name);
/* Next block in file order: 0, 1 at end of file, or a negative errno. */
int mkv_read_packet(MkvReader *r, MkvPacket *pkt);
/* Position at the last video cue point at or before pts_ns (the start when
 * there is none); the next read returns that keyframe's block. */
int mkv_seek(MkvReader *r, uint64_t pts_ns);
/* The cue points: n entries (video keyframe timestamps). */
int mkv_reader_cues(const MkvReader *r, const uint64_t **pts, int *n);

#ifdef __cplusplus
}
#endif
#endif
