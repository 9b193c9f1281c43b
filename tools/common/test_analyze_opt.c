/* argdec's --analyze hook (analyze_opt.h) driven the way argdec drives it:
 * packets through a decoder, each packet's tokens and first picture to
 * analyze_opt_tokens, analyze_opt_finish at the end. A token-only decoder
 * stands in for argdec's full one (the tokens are the same).
 *
 *   test_analyze_opt STREAM.mkv OUT.json [FAIL.json]
 *
 * Writes OUT.json (tools/test_analyze_opt.py compares it with arganalyze's
 * output) and checks the no-op handle and, with FAIL.json, a failure
 * report. Exit 0 when every check passes. */
#include <stdio.h>
#include <string.h>

#include "analyze_opt.h"
#include "arg_mkv.h"
#include "cli.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_analyze_opt STREAM.mkv OUT.json [FAIL.json]\n");
        return 2;
    }
    cli_set_tool("test_analyze_opt");
    cli_overwrite = CLI_OVERWRITE_YES;
    int fails = 0;
    char err[256];
    MkvReader *r = NULL;
    if (mkv_reader_open(&r, argv[1], err, sizeof(err)) < 0) {
        fprintf(stderr, "%s: %s\n", argv[1], err);
        return 1;
    }
    const MkvTrack *vt = mkv_reader_find_track(r, MKV_TRACK_VIDEO);
    ArgSequenceHeader h;
    ArgDecoder *dec = NULL;
    if (!vt || arg_parse_sequence_header(&h, vt->codec_private, vt->codec_private_size, err, sizeof(err)) < 0 ||
        arg_decoder_open_stream(&dec, NULL, NULL, vt->codec_private, vt->codec_private_size, 0, err,
                                sizeof(err)) < 0) {
        fprintf(stderr, "%s: %s\n", argv[1], err);
        return 1;
    }
    /* no --analyze: a NULL handle, every call a no-op */
    AnalyzeOpt *none = (AnalyzeOpt *)1;
    if (analyze_opt_open(&none, NULL, argv[1], &h) != 0 || none != NULL) {
        printf("FAIL no-op open\n");
        fails++;
    }
    AnalyzeOpt *an = NULL;
    if (analyze_opt_open(&an, argv[2], argv[1], &h) < 0 || !an) {
        printf("FAIL open\n");
        return 1;
    }
    MkvPacket p;
    int rc, packets = 0;
    while ((rc = mkv_read_packet(r, &p)) == 0) {
        if (p.track_type != MKV_TRACK_VIDEO)
            continue;
        int64_t first = (int64_t)(((double)p.pts_ns * h.fps_num / h.fps_den + 5e8) / 1e9);
        ArgPacket ap = { p.data, p.size, first, 0, 0, { 0 } };
        if (arg_decoder_send_packet(dec, &ap) != 0)
            continue;
        ArgTokens t;
        if (arg_decoder_get_tokens(dec, &t) == 0) {
            analyze_opt_tokens(none, &t, first);
            if (analyze_opt_tokens(an, &t, first) < 0) {
                printf("FAIL tokens\n");
                fails++;
            }
            packets++;
        }
    }
    if (analyze_opt_finish(none, NULL) != 0 || analyze_opt_finish(an, NULL) != 0) {
        printf("FAIL finish\n");
        fails++;
    }
    analyze_opt_close(none);
    analyze_opt_close(an);
    printf("%s %d packets analysed into %s\n", fails ? "FAIL" : "ok  ", packets, argv[2]);
    if (argc > 3) {
        /* decoding stopped: a failure report, never activities */
        an = NULL;
        if (analyze_opt_open(&an, argv[3], argv[1], &h) < 0 || analyze_opt_finish(an, "decoding stopped") != 0) {
            printf("FAIL failure report\n");
            fails++;
        }
        analyze_opt_close(an);
    }
    arg_decoder_close(dec);
    mkv_reader_close(r);
    return fails ? 1 : 0;
}
