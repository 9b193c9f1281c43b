/*
 * libFuzzer target for the Matroska demuxer (container/arg_mkv_read.cpp):
 * the input is written to a per-process anonymous file (the reader takes a
 * path) and opened; the tracks, tags, cues and duration are queried, every
 * packet is read, then the reader seeks to a few times (the start; the
 * first, a middle and the last cue point; a time taken from the input; the
 * end) and reads on from there, and is closed.
 *
 * libmatroska 1.7.1 and libebml 1.4.4 leak on some corrupt elements (see
 * tests/fuzz/lsan.supp): run the fuzzer with
 *   LSAN_OPTIONS=suppressions=tests/fuzz/lsan.supp  (or -detect_leaks=0).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arg_mkv.h"
#include "fuzz_tmpfile.h"

#define FUZZ_MKV_MAX_PACKETS 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint8_t sink;

static void check_packet(const MkvPacket *p)
{
    if (p->size > MKV_MAX_FRAME || (p->size && !p->data))
        abort();
    uint8_t x = 0;
    for (size_t i = 0; i < p->size; i++)
        x ^= p->data[i]; /* every byte must be readable */
    sink = x;
    if (p->track_type != 0 && p->track_type != MKV_TRACK_VIDEO && p->track_type != MKV_TRACK_AUDIO)
        abort();
}

/* Read up to max packets; stops at the end or at an error. */
static void read_packets(MkvReader *r, int max)
{
    MkvPacket p;
    for (int i = 0; i < max; i++) {
        memset(&p, 0, sizeof(p));
        int ret = mkv_read_packet(r, &p);
        if (ret != 0) {
            if (ret != 1 && ret >= 0)
                abort();
            return;
        }
        check_packet(&p);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_tmpfile(data, size);
    if (!path)
        abort();
    MkvReader *r = NULL;
    char err[256];
    err[0] = 0;
    if (mkv_reader_open(&r, path, err, sizeof(err)) < 0) {
        if (r || !err[0])
            abort();
        return 0;
    }
    int nt = mkv_reader_track_count(r);
    if (nt < 1)
        abort();
    for (int i = 0; i < nt; i++) {
        const MkvTrack *t = mkv_reader_track(r, i);
        if (!t || memchr(t->codec_id, 0, sizeof(t->codec_id)) == NULL)
            abort();
        if (t->codec_private_size > MKV_MAX_PRIVATE || (t->codec_private_size && !t->codec_private))
            abort();
        uint8_t x = 0;
        for (size_t k = 0; k < t->codec_private_size; k++)
            x ^= t->codec_private[k];
        sink = x;
    }
    if (mkv_reader_track(r, nt) || mkv_reader_track(r, -1))
        abort();
    (void)mkv_reader_find_track(r, MKV_TRACK_VIDEO);
    (void)mkv_reader_find_track(r, MKV_TRACK_AUDIO);
    (void)mkv_reader_duration_ns(r);
    const char *tag = mkv_reader_tag(r, "ENCODER");
    if (tag)
        sink = (uint8_t)strlen(tag);
    const uint64_t *cues = NULL;
    int ncues = 0;
    if (mkv_reader_cues(r, &cues, &ncues) != 0 || ncues < 0 || (ncues && !cues))
        abort();

    read_packets(r, FUZZ_MKV_MAX_PACKETS);
    read_packets(r, 1); /* after the end (or an error): still no crash */

    uint64_t times[6];
    int nseek = 0;
    times[nseek++] = 0;
    if (ncues > 0) { /* the first, a middle and the last cue point */
        times[nseek++] = cues[0];
        times[nseek++] = cues[ncues / 2];
        times[nseek++] = cues[ncues - 1];
    }
    uint64_t t = 0;
    for (size_t i = 0; i < 8 && i < size; i++)
        t = t << 8 | data[size - 1 - i];
    times[nseek++] = t;
    times[nseek++] = UINT64_MAX;
    for (int i = 0; i < nseek; i++) {
        int ret = mkv_seek(r, times[i]);
        if (ret > 0)
            abort();
        read_packets(r, i == 0 ? FUZZ_MKV_MAX_PACKETS : 16);
    }
    mkv_reader_close(r);
    return 0;
}
