// Matroska reader for ARG over libebml + libmatroska (see arg_mkv.h).
// One pass over the top-level elements records Info, Tracks, Tags, Cues and
// the cluster positions; packets are then read one cluster at a time, so
// memory is bounded by the largest cluster (itself bounded). Every element
// size is checked against the file before anything is read or allocated.
#include "arg_mkv.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <ebml/EbmlHead.h>
#include <ebml/EbmlStream.h>
#include <ebml/EbmlSubHead.h>
#include <ebml/StdIOCallback.h>
#include <matroska/KaxBlock.h>
#include <matroska/KaxBlockData.h>
#include <matroska/KaxCluster.h>
#include <matroska/KaxClusterData.h>
#include <matroska/KaxCues.h>
#include <matroska/KaxCuesData.h>
#include <matroska/KaxInfo.h>
#include <matroska/KaxInfoData.h>
#include <matroska/KaxSegment.h>
#include <matroska/KaxSemantic.h>
#include <matroska/KaxTag.h>
#include <matroska/KaxTags.h>
#include <matroska/KaxTracks.h>

using namespace libebml;
using namespace libmatroska;

static const uint64 kMaxMaster = 64ull << 20;   // Info/Tracks/Tags/Cues bound
static const uint64 kMaxCluster = 256ull << 20;  // one cluster in memory

struct MkvReader {
    StdIOCallback *io = nullptr;
    EbmlStream *es = nullptr;
    uint64 file_size = 0, seg_data = 0, seg_end = 0;
    uint64 scale = 1000000;
    double duration = 0;
    std::vector<MkvTrack> tracks;
    std::vector<std::pair<std::string, std::string>> tags;
    std::vector<uint64_t> cue_pts, cue_pos;  // pos relative to segment data
    std::vector<uint64> clusters;            // absolute positions
    size_t next_cluster = 0;
    KaxCluster *cur = nullptr;               // the cluster being read
    size_t cur_child = 0;
    std::vector<uint8_t> pkt;
    char *err = nullptr;
    size_t errlen = 0;
};

static int rfail(MkvReader *r, int code, const char *msg)
{
    if (r->err && r->errlen)
        snprintf(r->err, r->errlen, "%s", msg);
    return code;
}

// Fully read a master element after checking its size.
static bool read_master(MkvReader *r, EbmlElement *el, uint64 limit)
{
    if (!el->IsFiniteSize() || el->GetSize() > limit ||
        el->GetElementPosition() + el->HeadSize() + el->GetSize() > r->file_size)
        return false;
    int upper = 0;
    EbmlElement *dummy = nullptr;
    el->Read(*r->es, EBML_CONTEXT(el), upper, dummy, true);
    // libebml hands back an element of an upper level (ours to free) only
    // when upper > 0; otherwise dummy may be stale: an element it already
    // put into the tree, or freed
    if (upper > 0)
        delete dummy;
    return true;
}

template <typename T> static T *find(EbmlMaster &m)
{
    // dynamic_cast: an element with T's ID may have been read as an
    // EbmlDummy (e.g. a corrupt size), which is not a T
    return dynamic_cast<T *>(m.FindFirstElt(EBML_INFO(T)));
}

template <typename T> static uint64 uval(EbmlMaster &m, uint64 def)
{
    T *e = find<T>(m);
    return e ? (uint64)*static_cast<EbmlUInteger *>(e) : def;
}

static void parse_tracks(MkvReader *r, KaxTracks &tracks)
{
    for (size_t i = 0; i < tracks.ListSize(); i++) {
        KaxTrackEntry *tep = dynamic_cast<KaxTrackEntry *>(tracks[i]);
        if (!tep)
            continue;
        KaxTrackEntry &te = *tep;
        MkvTrack t;
        memset(&t, 0, sizeof(t));
        uint64 type = uval<KaxTrackType>(te, 0);
        t.type = type == track_video ? MKV_TRACK_VIDEO : type == track_audio ? MKV_TRACK_AUDIO : 0;
        t.number = (int)std::min<uint64>(uval<KaxTrackNumber>(te, 0), 127);
        if (KaxCodecID *id = find<KaxCodecID>(te))
            snprintf(t.codec_id, sizeof(t.codec_id), "%s", std::string(*id).c_str());
        if (KaxCodecPrivate *p = find<KaxCodecPrivate>(te)) {
            if (p->GetSize() <= MKV_MAX_PRIVATE && p->GetSize() > 0) {
                t.codec_private = (uint8_t *)malloc(p->GetSize());
                if (t.codec_private) {
                    memcpy(t.codec_private, p->GetBuffer(), p->GetSize());
                    t.codec_private_size = p->GetSize();
                }
            }
        }
        t.default_duration_ns = uval<KaxTrackDefaultDuration>(te, 0);
        t.codec_delay_ns = uval<KaxCodecDelay>(te, 0);
        t.seek_preroll_ns = uval<KaxSeekPreRoll>(te, 0);
        if (KaxTrackVideo *v = find<KaxTrackVideo>(te)) {
            t.width = (int)std::min<uint64>(uval<KaxVideoPixelWidth>(*v, 0), 65535);
            t.height = (int)std::min<uint64>(uval<KaxVideoPixelHeight>(*v, 0), 65535);
            t.display_width = (int)std::min<uint64>(uval<KaxVideoDisplayWidth>(*v, t.width), 65535);
            t.display_height = (int)std::min<uint64>(uval<KaxVideoDisplayHeight>(*v, t.height), 65535);
            if (KaxVideoColour *c = find<KaxVideoColour>(*v)) {
                t.matrix = (int)std::min<uint64>(uval<KaxVideoColourMatrix>(*c, 0), 255);
                t.range = (int)std::min<uint64>(uval<KaxVideoColourRange>(*c, 0), 255);
                t.transfer = (int)std::min<uint64>(uval<KaxVideoColourTransferCharacter>(*c, 0), 255);
                t.primaries = (int)std::min<uint64>(uval<KaxVideoColourPrimaries>(*c, 0), 255);
            }
        }
        if (KaxTrackAudio *a = find<KaxTrackAudio>(te)) {
            if (KaxAudioSamplingFreq *f = find<KaxAudioSamplingFreq>(*a))
                t.sample_rate = double(*static_cast<EbmlFloat *>(f));
            t.channels = (int)std::min<uint64>(uval<KaxAudioChannels>(*a, 1), 255);
        }
        r->tracks.push_back(t);
    }
}

static void parse_tags(MkvReader *r, KaxTags &tags)
{
    for (size_t i = 0; i < tags.ListSize(); i++) {
        KaxTag *tagp = dynamic_cast<KaxTag *>(tags[i]);
        if (!tagp)
            continue;
        KaxTag &tag = *tagp;
        for (size_t k = 0; k < tag.ListSize(); k++) {
            KaxTagSimple *sp = dynamic_cast<KaxTagSimple *>(tag[k]);
            if (!sp)
                continue;
            KaxTagSimple &s = *sp;
            KaxTagName *n = find<KaxTagName>(s);
            KaxTagString *v = find<KaxTagString>(s);
            if (n && v)
                r->tags.emplace_back(UTFstring(*n).GetUTF8(), UTFstring(*v).GetUTF8());
        }
    }
}

static void parse_cues(MkvReader *r, KaxCues &cues)
{
    for (size_t i = 0; i < cues.ListSize(); i++) {
        KaxCuePoint *cpp = dynamic_cast<KaxCuePoint *>(cues[i]);
        if (!cpp)
            continue;
        KaxCuePoint &cp = *cpp;
        KaxCueTime *tm = find<KaxCueTime>(cp);
        KaxCueTrackPositions *tp = find<KaxCueTrackPositions>(cp);
        if (!tm || !tp)
            continue;
        KaxCueClusterPosition *pos = find<KaxCueClusterPosition>(*tp);
        if (!pos)
            continue;
        r->cue_pts.push_back((uint64)*static_cast<EbmlUInteger *>(tm) * r->scale);
        r->cue_pos.push_back((uint64)*static_cast<EbmlUInteger *>(pos));
    }
}

extern "C" void mkv_reader_close(MkvReader *r)
{
    if (!r)
        return;
    for (MkvTrack &t : r->tracks)
        free(t.codec_private);
    delete r->cur;
    delete r->es;
    if (r->io) {
        try {
            r->io->close();
        } catch (...) {
        }
        delete r->io;
    }
    delete r;
}

extern "C" int mkv_reader_open(MkvReader **out, const char *path, char *err, size_t errlen)
{
    if (!out || !path)
        return -EINVAL;
    *out = nullptr;
    MkvReader *r = new (std::nothrow) MkvReader;
    if (!r)
        return -ENOMEM;
    r->err = err;
    r->errlen = errlen;
    int rc = 0;
    // deleted on every path, an exception from libebml included
    EbmlElement *head = nullptr, *seg = nullptr, *el = nullptr;
    try {
        FILE *f = fopen(path, "rb");
        if (!f) {
            rc = rfail(r, -errno, "cannot open the file");
            mkv_reader_close(r);
            return rc;
        }
        fseek(f, 0, SEEK_END);
        long sz = ftell(f);
        fclose(f);
        if (sz <= 0) {
            rc = rfail(r, -EINVAL, "empty or unreadable file");
            mkv_reader_close(r);
            return rc;
        }
        r->file_size = (uint64)sz;
        r->io = new StdIOCallback(path, MODE_READ);
        r->es = new EbmlStream(*r->io);
        head = r->es->FindNextID(EBML_INFO(EbmlHead), 0xFFFFFFFFL);
        if (!head || head->GetElementPosition() != 0) {
            delete head;
            rc = rfail(r, -EINVAL, "not an EBML file");
            mkv_reader_close(r);
            return rc;
        }
        bool ok = read_master(r, head, 4096);
        std::string doctype;
        EbmlMaster *hm = dynamic_cast<EbmlMaster *>(head); // may be an EbmlDummy
        if (ok && hm)
            if (EDocType *dt = find<EDocType>(*hm))
                doctype = std::string(*dt);
        delete head;
        head = nullptr;
        if (!ok || (doctype != "matroska" && doctype != "webm")) {
            rc = rfail(r, -EINVAL, "not a Matroska file (EBML DocType)");
            mkv_reader_close(r);
            return rc;
        }
        seg = r->es->FindNextID(EBML_INFO(KaxSegment), 0xFFFFFFFFFFFFFFFFull);
        if (!seg) {
            rc = rfail(r, -EINVAL, "no Segment");
            mkv_reader_close(r);
            return rc;
        }
        r->seg_data = seg->GetElementPosition() + seg->HeadSize();
        r->seg_end = seg->IsFiniteSize() ? std::min(r->seg_data + seg->GetSize(), r->file_size) : r->file_size;
        int upper = 0;
        el = r->es->FindNextElement(EBML_CONTEXT(seg), upper, 0xFFFFFFFFL, true);
        while (el && upper <= 0) {
            uint64 pos = el->GetElementPosition();
            uint64 end = pos + el->HeadSize() + (el->IsFiniteSize() ? el->GetSize() : 0);
            if (!el->IsFiniteSize() || end > r->file_size) {
                // truncated or unknown-size element: stop the scan here
                delete el;
                el = nullptr;
                break;
            }
            EbmlId id(*el);
            if (id == EBML_ID(KaxCluster)) {
                if (el->GetSize() <= kMaxCluster)
                    r->clusters.push_back(pos);
            } else if (id == EBML_ID(KaxInfo) || id == EBML_ID(KaxTracks) || id == EBML_ID(KaxTags) ||
                       id == EBML_ID(KaxCues)) {
                if (dynamic_cast<EbmlMaster *>(el) && read_master(r, el, kMaxMaster)) {
                    EbmlMaster &m = *static_cast<EbmlMaster *>(el);
                    if (id == EBML_ID(KaxInfo)) {
                        r->scale = uval<KaxTimecodeScale>(m, 1000000);
                        if (r->scale == 0 || r->scale > 1000000000ull)
                            r->scale = 1000000;
                        if (KaxDuration *d = find<KaxDuration>(m))
                            r->duration = double(*static_cast<EbmlFloat *>(d)) * (double)r->scale;
                    } else if (KaxTracks *tr = dynamic_cast<KaxTracks *>(el)) {
                        parse_tracks(r, *tr);
                    } else if (KaxTags *tg = dynamic_cast<KaxTags *>(el)) {
                        parse_tags(r, *tg);
                    } else if (KaxCues *cu = dynamic_cast<KaxCues *>(el)) {
                        parse_cues(r, *cu);
                    }
                }
            }
            // unknown elements are skipped
            r->io->setFilePointer(end);
            delete el;
            el = nullptr;
            el = r->es->FindNextElement(EBML_CONTEXT(seg), upper, 0xFFFFFFFFL, true);
        }
    } catch (std::exception &e) {
        rc = rfail(r, -EINVAL, "malformed Matroska data");
    } catch (...) {
        rc = rfail(r, -EINVAL, "malformed Matroska data");
    }
    delete el;
    delete seg;
    delete head;
    if (rc == 0 && r->tracks.empty())
        rc = rfail(r, -EINVAL, "no tracks");
    if (rc < 0) {
        mkv_reader_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

extern "C" int mkv_reader_track_count(const MkvReader *r)
{
    return r ? (int)r->tracks.size() : 0;
}

extern "C" const MkvTrack *mkv_reader_track(const MkvReader *r, int i)
{
    return r && i >= 0 && i < (int)r->tracks.size() ? &r->tracks[i] : nullptr;
}

extern "C" const MkvTrack *mkv_reader_find_track(const MkvReader *r, int type)
{
    if (!r)
        return nullptr;
    for (const MkvTrack &t : r->tracks)
        if (t.type == type)
            return &t;
    return nullptr;
}

extern "C" double mkv_reader_duration_ns(const MkvReader *r)
{
    return r ? r->duration : 0;
}

extern "C" const char *mkv_reader_tag(const MkvReader *r, const char *name)
{
    if (!r || !name)
        return nullptr;
    for (auto &kv : r->tags)
        if (kv.first == name)
            return kv.second.c_str();
    return nullptr;
}

extern "C" int mkv_reader_cues(const MkvReader *r, const uint64_t **pts, int *n)
{
    if (!r || !pts || !n)
        return -EINVAL;
    *pts = r->cue_pts.data();
    *n = (int)r->cue_pts.size();
    return 0;
}

static int load_cluster(MkvReader *r)
{
    delete r->cur;
    r->cur = nullptr;
    r->cur_child = 0;
    while (r->next_cluster < r->clusters.size()) {
        uint64 pos = r->clusters[r->next_cluster++];
        r->io->setFilePointer(pos);
        EbmlElement *el = r->es->FindNextID(EBML_INFO(KaxCluster), kMaxCluster + 16);
        if (!el)
            continue;
        KaxCluster *c = dynamic_cast<KaxCluster *>(el);
        bool ok = false;
        try {
            ok = c && el->GetElementPosition() == pos && read_master(r, el, kMaxCluster);
        } catch (...) {
            delete el; // not yet r->cur: the caller's handler cannot free it
            throw;
        }
        if (!ok) {
            delete el;
            continue;
        }
        uint64 tc = uval<KaxClusterTimecode>(*c, 0);
        c->InitTimecode(tc, (int64)r->scale);
        r->cur = c;
        return 1;
    }
    return 0;
}

extern "C" int mkv_read_packet(MkvReader *r, MkvPacket *pkt)
{
    if (!r || !pkt)
        return -EINVAL;
    try {
        for (;;) {
            if (!r->cur && !load_cluster(r))
                return 1;
            KaxCluster &c = *r->cur;
            while (r->cur_child < c.ListSize()) {
                EbmlElement *e = c[r->cur_child++];
                KaxInternalBlock *b = nullptr;
                bool key = true;
                if (KaxSimpleBlock *sb = dynamic_cast<KaxSimpleBlock *>(e)) {
                    key = sb->IsKeyframe();
                    b = sb;
                } else if (KaxBlockGroup *gp = dynamic_cast<KaxBlockGroup *>(e)) {
                    KaxBlockGroup &g = *gp;
                    b = find<KaxBlock>(g);
                    key = find<KaxReferenceBlock>(g) == nullptr;
                }
                if (!b || b->NumberFrames() < 1)
                    continue;
                b->SetParent(c);
                DataBuffer &d = b->GetBuffer(0);
                if (d.Size() > MKV_MAX_FRAME)
                    continue;
                r->pkt.assign(d.Buffer(), d.Buffer() + d.Size());
                pkt->track_number = (int)b->TrackNum();
                pkt->track_type = 0;
                for (const MkvTrack &t : r->tracks)
                    if (t.number == pkt->track_number)
                        pkt->track_type = t.type;
                pkt->pts_ns = b->GlobalTimecode();
                pkt->keyframe = key;
                pkt->data = r->pkt.data();
                pkt->size = r->pkt.size();
                return 0;
            }
            delete r->cur;
            r->cur = nullptr;
        }
    } catch (...) {
        delete r->cur;
        r->cur = nullptr;
        return rfail(r, -EINVAL, "malformed cluster");
    }
}

extern "C" int mkv_seek(MkvReader *r, uint64_t pts_ns)
{
    if (!r)
        return -EINVAL;
    delete r->cur;
    r->cur = nullptr;
    r->next_cluster = 0;
    // the last cue at or before pts_ns
    int best = -1;
    for (size_t i = 0; i < r->cue_pts.size(); i++)
        if (r->cue_pts[i] <= pts_ns && (best < 0 || r->cue_pts[i] >= r->cue_pts[best]))
            best = (int)i;
    if (best < 0)
        return 0;
    uint64 abs = r->seg_data + r->cue_pos[best];
    auto it = std::lower_bound(r->clusters.begin(), r->clusters.end(), abs);
    if (it == r->clusters.end() || *it != abs)
        return rfail(r, -EINVAL, "cue points to no cluster");
    r->next_cluster = (size_t)(it - r->clusters.begin());
    return 0;
}
