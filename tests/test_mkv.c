/* Matroska container: write/read round trip, seeking through Cues, hostile
 * files. usage: test_mkv WORKDIR  (leaves WORKDIR/roundtrip.mkv for the
 * mkvmerge/ffprobe check). Prints "N passed, M failed". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "arg_mkv.h"
#include "check.h"


#define NV 37            /* video blocks */
#define GOP 8
#define VDUR 400000000ull /* 0.4 s per latent frame */
#define AFRAME 20000000ull

static uint32_t rng = 12345;
static uint8_t rnd8(void)
{
    rng = rng * 1664525u + 1013904223u;
    return (uint8_t)(rng >> 24);
}

static size_t vsize(int i)
{
    return (size_t)(1 + (i * 37) % 300);
}
static void vdata(int i, uint8_t *p)
{
    for (size_t k = 0; k < vsize(i); k++)
        p[k] = (uint8_t)(i * 7 + k * 13);
}

static int write_file(const char *path, int with_audio)
{
    char err[256];
    uint8_t priv[40];
    for (int i = 0; i < 40; i++)
        priv[i] = rnd8();
    MkvVideoInfo v = { 104, 64, 100, 60, VDUR, 1, 1, 1, 1, priv, sizeof(priv) };
    uint8_t head[19] = { 'O', 'p', 'u', 's', 'H', 'e', 'a', 'd', 1, 1, 0x38, 1, 0x80, 0xBB, 0, 0, 0, 0, 0 };
    MkvAudioInfo a = { 48000, 1, 6500000ull, 80000000ull, head, sizeof(head) };
    MkvTag tags[2] = { { "ENCODER", "test_mkv" }, { "ARG_MODEL", "unit-test-model" } };
    MkvWriter *w;
    int rc = mkv_writer_open(&w, path, &v, with_audio ? &a : NULL, tags, 2, err, sizeof(err));
    if (rc < 0) {
        printf("open: %s\n", err);
        return rc;
    }
    uint8_t buf[512];
    uint64_t apts = 0;
    for (int i = 0; i < NV; i++) {
        uint64_t pts = (uint64_t)i * VDUR;
        vdata(i, buf);
        rc = mkv_write_block(w, MKV_TRACK_VIDEO, pts, 0, i % GOP == 0, buf, vsize(i));
        if (rc < 0)
            break;
        while (with_audio && apts < pts + VDUR) {
            uint8_t ab[10] = { 0xFC, (uint8_t)(apts / AFRAME) };
            rc = mkv_write_block(w, MKV_TRACK_AUDIO, apts, 0, 1, ab, sizeof(ab));
            apts += AFRAME;
        }
    }
    int rc2 = mkv_writer_close(w, rc == 0);
    return rc < 0 ? rc : rc2;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    mkdir(dir, 0755); /* may exist */
    char path[1024], bad[1100];
    snprintf(path, sizeof(path), "%s/roundtrip.mkv", dir);
    snprintf(bad, sizeof(bad), "%s/hostile.mkv", dir);
    CHECK(write_file(path, 1) == 0, "write");

    char err[256];
    MkvReader *r;
    int rc = mkv_reader_open(&r, path, err, sizeof(err));
    CHECK(rc == 0, "reader open: %s", err);
    if (rc < 0)
        goto summary;
    {
        const MkvTrack *vt = mkv_reader_find_track(r, MKV_TRACK_VIDEO);
        const MkvTrack *at = mkv_reader_find_track(r, MKV_TRACK_AUDIO);
        CHECK(mkv_reader_track_count(r) == 2 && vt && at, "two tracks found by type");
        CHECK(vt && !strcmp(vt->codec_id, "V_ARG") && vt->codec_private_size == 40 && vt->width == 104 &&
                  vt->height == 64 && vt->display_width == 100 && vt->display_height == 60 &&
                  vt->default_duration_ns == VDUR && vt->matrix == 1 && vt->range == 1,
              "video track fields");
        CHECK(at && !strcmp(at->codec_id, "A_OPUS") && at->codec_private_size == 19 &&
                  !memcmp(at->codec_private, "OpusHead", 8) && at->sample_rate == 48000 && at->channels == 1 &&
                  at->codec_delay_ns == 6500000ull && at->seek_preroll_ns == 80000000ull,
              "audio track fields");
        CHECK(mkv_reader_tag(r, "ARG_MODEL") && !strcmp(mkv_reader_tag(r, "ARG_MODEL"), "unit-test-model"),
              "tag");
        double d = mkv_reader_duration_ns(r);
        CHECK(d > NV * (double)VDUR - 1e6 && d < NV * (double)VDUR + 1e6, "duration %.0f", d);
        const uint64_t *cues;
        int ncue;
        mkv_reader_cues(r, &cues, &ncue);
        CHECK(ncue == (NV + GOP - 1) / GOP, "cue count %d", ncue);
        /* every block back, in order, with its bytes */
        MkvPacket p;
        int nv = 0, na = 0, bad_v = 0, order = 0;
        uint64_t last = 0;
        uint8_t buf[512];
        while ((rc = mkv_read_packet(r, &p)) == 0) {
            if (p.pts_ns < last && p.track_type == MKV_TRACK_VIDEO)
                order++;
            if (p.track_type == MKV_TRACK_VIDEO) {
                vdata(nv, buf);
                if (p.size != vsize(nv) || memcmp(p.data, buf, p.size) || p.pts_ns != nv * VDUR ||
                    p.keyframe != (nv % GOP == 0))
                    bad_v++;
                last = p.pts_ns;
                nv++;
            } else if (p.track_type == MKV_TRACK_AUDIO) {
                na++;
            }
        }
        CHECK(rc == 1 && nv == NV && bad_v == 0 && order == 0, "video blocks: %d read, %d bad, rc %d", nv,
              bad_v, rc);
        CHECK(na == (int)(NV * VDUR / AFRAME), "audio blocks %d", na);
        /* seeking lands on the keyframe of the right GOP */
        int seek_ok = 0;
        for (int target = 0; target < NV; target += 3) {
            rc = mkv_seek(r, (uint64_t)target * VDUR + 1000);
            int got = -1;
            while (mkv_read_packet(r, &p) == 0)
                if (p.track_type == MKV_TRACK_VIDEO) {
                    got = (int)(p.pts_ns / VDUR);
                    if (!p.keyframe)
                        got = -2;
                    break;
                }
            seek_ok += rc == 0 && got == target / GOP * GOP;
        }
        CHECK(seek_ok == (NV + 2) / 3, "seeks landing on the GOP start: %d of %d", seek_ok, (NV + 2) / 3);
        mkv_reader_close(r);
    }
    /* hostile files: truncations and byte corruptions must not crash */
    {
        FILE *f = fopen(path, "rb");
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        rewind(f);
        uint8_t *orig = malloc((size_t)n), *mut = malloc((size_t)n);
        if (fread(orig, 1, (size_t)n, f) != (size_t)n)
            n = 0;
        fclose(f);
        int opened = 0, rejected = 0;
        for (int iter = 0; iter < 300 && n > 0; iter++) {
            long len = n;
            memcpy(mut, orig, (size_t)n);
            if (iter < 60) {
                len = (long)((uint64_t)n * iter / 60);
            } else {
                int k = 1 + iter % 8;
                for (int j = 0; j < k; j++)
                    mut[(rnd8() << 8 | rnd8()) % n] = rnd8();
            }
            FILE *g = fopen(bad, "wb");
            fwrite(mut, 1, (size_t)len, g);
            fclose(g);
            MkvReader *h;
            if (mkv_reader_open(&h, bad, err, sizeof(err)) == 0) {
                opened++;
                MkvPacket p;
                int guard = 0;
                while (mkv_read_packet(h, &p) == 0 && guard++ < 100000) {
                }
                mkv_seek(h, 5 * VDUR);
                while (mkv_read_packet(h, &p) == 0 && guard++ < 200000) {
                }
                mkv_reader_close(h);
            } else {
                rejected++;
            }
        }
        CHECK(opened + rejected == 300 && rejected > 0, "hostile files: %d opened, %d rejected", opened, rejected);
        free(orig);
        free(mut);
        remove(bad);
    }
    /* the writer leaves nothing behind when aborted */
    {
        char p2[1100];
        snprintf(p2, sizeof(p2), "%s/aborted.mkv", dir);
        remove(p2);
        MkvVideoInfo v = { 16, 16, 0, 0, VDUR, 0, 0, 0, 0, NULL, 0 };
        MkvWriter *w;
        CHECK(mkv_writer_open(&w, p2, &v, NULL, NULL, 0, err, sizeof(err)) == 0, "open 2");
        mkv_write_block(w, MKV_TRACK_VIDEO, 0, 0, 1, (const uint8_t *)"x", 1);
        mkv_writer_close(w, 0);
        FILE *g = fopen(p2, "rb");
        CHECK(g == NULL, "aborted output must not exist");
        if (g)
            fclose(g);
        CHECK(mkv_writer_open(&w, "/dev/null", &v, NULL, NULL, 0, err, sizeof(err)) < 0,
              "a device is refused as output");
    }
summary:
    return check_summary();
}
