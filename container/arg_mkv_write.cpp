// Matroska writer for ARG over libebml + libmatroska (see arg_mkv.h).
#include "arg_mkv.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>
#include <sys/stat.h>
#include <unistd.h>

#include <ebml/EbmlHead.h>
#include <ebml/EbmlSubHead.h>
#include <ebml/EbmlVoid.h>
#include <ebml/StdIOCallback.h>
#include <matroska/KaxBlock.h>
#include <matroska/KaxCluster.h>
#include <matroska/KaxCues.h>
#include <matroska/KaxCuesData.h>
#include <matroska/KaxInfo.h>
#include <matroska/KaxInfoData.h>
#include <matroska/KaxSeekHead.h>
#include <matroska/KaxSegment.h>
#include <matroska/KaxSemantic.h>
#include <matroska/KaxTag.h>
#include <matroska/KaxTags.h>
#include <matroska/KaxTracks.h>

using namespace libebml;
using namespace libmatroska;

static const uint64 kScale = 1000000;             // TimecodeScale: 1 ms
static const uint64 kMaxClusterNs = 5000000000ull; // start a new cluster after 5 s

struct MkvWriter {
    std::string path, tmp;
    StdIOCallback *io = nullptr;
    KaxSegment *seg = nullptr;
    uint64 seg_head_size = 0;
    EbmlVoid *seek_void = nullptr;
    KaxSeekHead *seek = nullptr;
    KaxCues *cues = nullptr;
    KaxInfo *info = nullptr;
    KaxTracks *tracks = nullptr;
    KaxTrackEntry *vtrack = nullptr, *atrack = nullptr;
    KaxCluster *cluster = nullptr;
    uint64 cluster_start = 0, last_pts = 0, end_pts = 0;
    // video keyframes of the current cluster: a SimpleBlock or a BlockGroup
    std::vector<std::pair<KaxSimpleBlock *, KaxBlockGroup *>> cue_blocks;
    std::vector<std::pair<std::string, std::string>> tags;
    uint64 default_video_ns = 0;
    bool rewrite_tracks = false;
    char *err = nullptr;
    size_t errlen = 0;
    bool failed = false;
};

static int fail(MkvWriter *w, int code, const char *msg)
{
    if (w->err && w->errlen)
        snprintf(w->err, w->errlen, "%s: %s", w->path.c_str(), msg);
    w->failed = true;
    return code;
}

static UTFstring utf(const std::string &s)
{
    UTFstring u;
    u.SetUTF8(s);
    return u;
}

static void flush_cluster(MkvWriter *w)
{
    if (!w->cluster)
        return;
    KaxCues empty;
    empty.SetGlobalTimecodeScale(kScale);
    w->cluster->Render(*w->io, empty);
    // now that the blocks have positions, index the keyframes
    for (auto &b : w->cue_blocks) {
        KaxCuePoint &cp = AddNewChild<KaxCuePoint>(*w->cues);
        if (b.first)
            cp.PositionSet(*b.first, kScale);
        else
            cp.PositionSet(*b.second, kScale);
    }
    w->cue_blocks.clear();
    // SimpleBlocks only: no ReferenceBlock, whose destruction order is unsafe in
    // libmatroska 1.7; the cluster's destructor releases the frames.
    delete w->cluster;
    w->cluster = nullptr;
}

extern "C" int mkv_writer_open(MkvWriter **out, const char *path, const MkvVideoInfo *v,
                               const MkvAudioInfo *a, const MkvTag *tags, int n_tags,
                               char *err, size_t errlen)
{
    if (!out || !path || !v || n_tags < 0 || (n_tags && !tags))
        return -EINVAL;
    *out = nullptr;
    MkvWriter *w = new (std::nothrow) MkvWriter;
    if (!w)
        return -ENOMEM;
    w->path = path;
    w->err = err;
    w->errlen = errlen;
    if (v->width < 1 || v->height < 1 || v->width > 65535 || v->height > 65535 ||
        v->codec_private_size > MKV_MAX_PRIVATE ||
        (a && (a->sample_rate < 1 || a->channels < 1 || a->channels > 255 ||
               a->codec_private_size > MKV_MAX_PRIVATE))) {
        int rc = fail(w, -EINVAL, "bad track parameters");
        delete w;
        return rc;
    }
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        int rc = fail(w, -EINVAL, "output exists and is not a regular file (Matroska needs a seekable file)");
        delete w;
        return rc;
    }
    std::vector<char> tmpl(w->path.begin(), w->path.end());
    const char suffix[] = ".tmp.XXXXXX";
    tmpl.insert(tmpl.end(), suffix, suffix + sizeof(suffix));
    int fd = mkstemp(tmpl.data());
    if (fd < 0) {
        int rc = fail(w, -errno, "cannot create a temporary file next to the output");
        delete w;
        return rc;
    }
    {
        /* mkstemp makes the file 0600: give it the usual 0666 & ~umask. */
        mode_t mask = umask(0);
        umask(mask);
        (void)fchmod(fd, 0666 & ~mask);
    }
    close(fd);
    w->tmp = tmpl.data();
    for (int i = 0; i < n_tags; i++)
        w->tags.emplace_back(tags[i].name ? tags[i].name : "", tags[i].value ? tags[i].value : "");
    try {
        w->io = new StdIOCallback(w->tmp.c_str(), MODE_CREATE);
        EbmlHead head;
        GetChild<EDocType>(head).SetValue("matroska");
        GetChild<EDocTypeVersion>(head).SetValue(4);
        GetChild<EDocTypeReadVersion>(head).SetValue(2);
        head.Render(*w->io, true);

        w->seg = new KaxSegment;
        w->seg_head_size = w->seg->WriteHead(*w->io, 8);
        w->seek_void = new EbmlVoid;
        w->seek_void->SetSize(200);
        w->seek_void->Render(*w->io);
        w->seek = new KaxSeekHead;
        w->cues = new KaxCues;
        w->cues->SetGlobalTimecodeScale(kScale);

        w->info = &GetChild<KaxInfo>(*w->seg);
        GetChild<KaxTimecodeScale>(*w->info).SetValue(kScale);
        KaxDuration &dur = GetChild<KaxDuration>(*w->info);
        dur.SetPrecision(EbmlFloat::FLOAT_64);
        dur.SetValue(0.0);
        GetChild<KaxMuxingApp>(*w->info).SetValue(utf("libarg container (libmatroska)"));
        GetChild<KaxWritingApp>(*w->info).SetValue(utf("ARG"));
        w->info->Render(*w->io, true);
        w->seek->IndexThis(*w->info, *w->seg);

        w->tracks = &GetChild<KaxTracks>(*w->seg);
        KaxTrackEntry &vt = GetChild<KaxTrackEntry>(*w->tracks);
        vt.SetGlobalTimecodeScale(kScale);
        GetChild<KaxTrackNumber>(vt).SetValue(1);
        GetChild<KaxTrackUID>(vt).SetValue(0x41524701ull);
        GetChild<KaxTrackType>(vt).SetValue(track_video);
        GetChild<KaxCodecID>(vt).SetValue("V_ARG");
        GetChild<KaxTrackFlagLacing>(vt).SetValue(0);
        if (v->codec_private_size)
            GetChild<KaxCodecPrivate>(vt).CopyBuffer(v->codec_private, (uint32)v->codec_private_size);
        if (v->default_duration_ns)
            GetChild<KaxTrackDefaultDuration>(vt).SetValue(v->default_duration_ns);
        w->default_video_ns = v->default_duration_ns;
        vt.EnableLacing(false);
        KaxTrackVideo &vv = GetChild<KaxTrackVideo>(vt);
        GetChild<KaxVideoPixelWidth>(vv).SetValue(v->width);
        GetChild<KaxVideoPixelHeight>(vv).SetValue(v->height);
        GetChild<KaxVideoDisplayWidth>(vv).SetValue(v->display_width > 0 ? v->display_width : v->width);
        GetChild<KaxVideoDisplayHeight>(vv).SetValue(v->display_height > 0 ? v->display_height : v->height);
        if (v->matrix || v->range || v->primaries || v->transfer) {
            KaxVideoColour &col = GetChild<KaxVideoColour>(vv);
            if (v->matrix)
                GetChild<KaxVideoColourMatrix>(col).SetValue(v->matrix);
            if (v->range)
                GetChild<KaxVideoColourRange>(col).SetValue(v->range);
            if (v->transfer)
                GetChild<KaxVideoColourTransferCharacter>(col).SetValue(v->transfer);
            if (v->primaries)
                GetChild<KaxVideoColourPrimaries>(col).SetValue(v->primaries);
        }
        w->vtrack = &vt;
        if (a) {
            KaxTrackEntry &at = GetNextChild<KaxTrackEntry>(*w->tracks, vt);
            at.SetGlobalTimecodeScale(kScale);
            GetChild<KaxTrackNumber>(at).SetValue(2);
            GetChild<KaxTrackUID>(at).SetValue(0x41524702ull);
            GetChild<KaxTrackType>(at).SetValue(track_audio);
            GetChild<KaxCodecID>(at).SetValue("A_OPUS");
            GetChild<KaxTrackFlagLacing>(at).SetValue(0);
            if (a->codec_private_size)
                GetChild<KaxCodecPrivate>(at).CopyBuffer(a->codec_private, (uint32)a->codec_private_size);
            if (a->codec_delay_ns)
                GetChild<KaxCodecDelay>(at).SetValue(a->codec_delay_ns);
            if (a->seek_preroll_ns)
                GetChild<KaxSeekPreRoll>(at).SetValue(a->seek_preroll_ns);
            at.EnableLacing(false);
            KaxTrackAudio &aa = GetChild<KaxTrackAudio>(at);
            GetChild<KaxAudioSamplingFreq>(aa).SetValue((double)a->sample_rate);
            GetChild<KaxAudioChannels>(aa).SetValue(a->channels);
            w->atrack = &at;
        }
        w->tracks->Render(*w->io, false); // skip defaults (TrackTimecodeScale asserts when rendered)
        w->seek->IndexThis(*w->tracks, *w->seg);
    } catch (std::exception &e) {
        int rc = fail(w, -EIO, e.what());
        mkv_writer_close(w, 0);
        return rc;
    }
    *out = w;
    return 0;
}

static int write_block(MkvWriter *w, int track_type, uint64_t pts_ns, uint64_t duration_ns,
                       int keyframe, const uint8_t *data, size_t size, bool group)
{
    if (!w || w->failed || (!data && size) || size > MKV_MAX_FRAME)
        return -EINVAL;
    KaxTrackEntry *t = track_type == MKV_TRACK_VIDEO ? w->vtrack : track_type == MKV_TRACK_AUDIO ? w->atrack : nullptr;
    if (!t)
        return -EINVAL;
    if (pts_ns < w->cluster_start && w->cluster)
        return fail(w, -EINVAL, "block timestamp before its cluster");
    try {
        bool vkey = track_type == MKV_TRACK_VIDEO && keyframe;
        if (!w->cluster || vkey || pts_ns - w->cluster_start > kMaxClusterNs) {
            flush_cluster(w);
            w->cluster = new KaxCluster;
            w->cluster->SetParent(*w->seg);
            w->cluster->InitTimecode(pts_ns / kScale, (int64)kScale);
            w->cluster_start = pts_ns;
        }
        DataBuffer *buf = new DataBuffer((binary *)data, (uint32)size, nullptr, true);
        if (pts_ns / kScale - w->cluster_start / kScale > 32767) {
            delete buf;
            return fail(w, -EINVAL, "block too far from its cluster start");
        }
        uint64 dur = duration_ns ? duration_ns : (track_type == MKV_TRACK_VIDEO ? w->default_video_ns : 0);
        if (group) { // a BlockGroup: Block + BlockDuration (no ReferenceBlock)
            KaxBlockGroup &bg = AddNewChild<KaxBlockGroup>(*w->cluster);
            bg.SetParent(*w->cluster);
            bg.AddFrame(*t, pts_ns, *buf, LACING_NONE); // the group owns buf now
            bg.SetBlockDuration(duration_ns);
            if (vkey)
                w->cue_blocks.emplace_back(nullptr, &bg);
        } else {
            KaxSimpleBlock &sb = AddNewChild<KaxSimpleBlock>(*w->cluster);
            sb.SetParent(*w->cluster);
            sb.AddFrame(*t, pts_ns, *buf, LACING_NONE); // the block owns buf now
            sb.SetKeyframe(track_type == MKV_TRACK_AUDIO || keyframe);
            if (vkey)
                w->cue_blocks.emplace_back(&sb, nullptr);
        }
        if (pts_ns + dur > w->end_pts)
            w->end_pts = pts_ns + dur;
        w->last_pts = pts_ns;
    } catch (std::exception &e) {
        return fail(w, -EIO, e.what());
    }
    return 0;
}

extern "C" int mkv_write_block(MkvWriter *w, int track_type, uint64_t pts_ns, uint64_t duration_ns,
                               int keyframe, const uint8_t *data, size_t size)
{
    return write_block(w, track_type, pts_ns, duration_ns, keyframe, data, size, false);
}

extern "C" int mkv_write_block_duration(MkvWriter *w, int track_type, uint64_t pts_ns, uint64_t duration_ns,
                                        int keyframe, const uint8_t *data, size_t size)
{
    if (!duration_ns)
        return -EINVAL;
    return write_block(w, track_type, pts_ns, duration_ns, keyframe, data, size, true);
}

extern "C" int mkv_writer_add_tag(MkvWriter *w, const char *name, const char *value)
{
    if (!w || !name || !value || w->failed)
        return -EINVAL;
    w->tags.emplace_back(name, value);
    return 0;
}

extern "C" int mkv_writer_set_video_private(MkvWriter *w, const uint8_t *data, size_t size)
{
    if (!w || !data || w->failed)
        return -EINVAL;
    KaxCodecPrivate *p = static_cast<KaxCodecPrivate *>(w->vtrack->FindFirstElt(EBML_INFO(KaxCodecPrivate)));
    if (!p || p->GetSize() != size)
        return -EINVAL;
    p->CopyBuffer(data, (uint32)size);
    w->rewrite_tracks = true;
    return 0;
}

extern "C" const char *mkv_writer_tmp_path(const MkvWriter *w)
{
    return w ? w->tmp.c_str() : nullptr;
}

extern "C" int mkv_writer_close(MkvWriter *w, int commit)
{
    if (!w)
        return -EINVAL;
    int rc = 0;
    if (commit && !w->failed) {
        try {
            flush_cluster(w);
            if (!w->tags.empty()) {
                KaxTags tags;
                KaxTag *tag = &GetChild<KaxTag>(tags);
                GetChild<KaxTagTargetTypeValue>(GetChild<KaxTagTargets>(*tag)).SetValue(50);
                KaxTagSimple *prev = nullptr;
                for (auto &kv : w->tags) {
                    KaxTagSimple &s = prev ? GetNextChild<KaxTagSimple>(*tag, *prev) : GetChild<KaxTagSimple>(*tag);
                    GetChild<KaxTagName>(s).SetValue(utf(kv.first));
                    GetChild<KaxTagString>(s).SetValue(utf(kv.second));
                    prev = &s;
                }
                tags.Render(*w->io, false);
                w->seek->IndexThis(tags, *w->seg);
            }
            if (w->cues->ListSize()) {
                w->cues->Render(*w->io, true);
                w->seek->IndexThis(*w->cues, *w->seg);
            }
            uint64 end = w->io->getFilePointer();
            // rewrite Info with the duration (same size: a 64-bit float)
            GetChild<KaxDuration>(*w->info).SetValue((double)w->end_pts / (double)kScale);
            w->io->setFilePointer(w->info->GetElementPosition());
            w->info->Render(*w->io, true);
            if (w->rewrite_tracks) {
                uint64 before = w->tracks->GetSize();
                w->io->setFilePointer(w->tracks->GetElementPosition());
                w->tracks->Render(*w->io, false);
                if (w->tracks->GetSize() != before)
                    throw std::runtime_error("Tracks changed size when rewritten");
            }
            w->seek_void->ReplaceWith(*w->seek, *w->io, true);
            // segment size
            uint64 data_size = end - w->seg->GetElementPosition() - w->seg_head_size;
            if (w->seg->ForceSize(data_size))
                w->seg->OverwriteHead(*w->io);
            w->io->setFilePointer(end);
            w->io->close();
            delete w->io;
            w->io = nullptr;
            if (rename(w->tmp.c_str(), w->path.c_str()) != 0)
                rc = fail(w, -errno, "cannot rename the temporary file into place");
        } catch (std::exception &e) {
            rc = fail(w, -EIO, e.what());
        }
    } else if (commit) {
        rc = -EIO;
    }
    if (w->io) {
        try {
            w->io->close();
        } catch (...) {
        }
        delete w->io;
    }
    if (rc < 0 || !commit)
        unlink(w->tmp.c_str());
    delete w->cluster;
    delete w->cues;
    delete w->seek;
    delete w->seek_void;
    delete w->seg;
    delete w;
    return rc;
}
