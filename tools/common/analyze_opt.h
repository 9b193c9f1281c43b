/* The activity pass (arg/analysis.h) as an add-on to a tool that reads an
 * ARG stream: ActEV SDL v2 output shared by arganalyze, and the hook behind
 * `argdec --analyze FILE.json` (the pass runs on the tokens the decoder
 * produces anyway, so it costs next to nothing beside picture decoding).
 *
 * argdec's use, every call a no-op on a NULL handle:
 *
 *   static const char *analyze_path;    // option table:
 *   CLI_OPT_STRING("--analyze", &analyze_path, "FILE.json", ANALYZE_OPT_HELP),
 *   AnalyzeOpt *an = NULL;              // after the sequence header is parsed:
 *   if (analyze_opt_open(&an, analyze_path, opt.in, &h) < 0) goto out;
 *   analyze_opt_tokens(an, &t, first);  // for each packet's tokens (first
 *                                       // picture of the packet)
 *   analyze_opt_finish(an, NULL);       // at the end (or a message: "fail")
 *   analyze_opt_close(an);
 */
#ifndef ARG_TOOLS_ANALYZE_OPT_H
#define ARG_TOOLS_ANALYZE_OPT_H

#include <stddef.h>
#include <stdint.h>

#include "arg/analysis.h"
#include "arg/arg.h"

#define ANALYZE_OPT_HELP                                                          \
    "also find activities (person_walks, vehicle_turns_left, ...) from the\n"     \
    "tokens and write them as ActEV SDL v2 JSON (as arganalyze does)"

/* ActEV SDL v2 system output for one video `name` (the schema's
 * [A-Za-z0-9_.-]+): the activities of a finished pass, or, when fail is not
 * NULL, none and processingReport status "fail" with fail as the message.
 * st (may be NULL), secs and fps go into siteSpecific. Written atomically
 * (cli_out_*); "-" is stdout. 0 or -1 after saying why. */
int analyze_write_actev(const char *path, const char *name, const ArgAnalysis *an, const char *fail,
                        const ArgAnalysisStats *st, double secs, double fps);
/* The statistics object (latent frames, pictures, ..., pictures/s, x real
 * time) as one JSON value. */
struct CliJson;
void analyze_json_stats(struct CliJson *j, const ArgAnalysisStats *st, double secs, double fps);
/* The video's name for the JSON: the file name of path (after the last
 * '/'), characters outside [A-Za-z0-9_.-] replaced by '_'; "video" if
 * empty. */
void analyze_video_name(const char *path, char *out, size_t size);

typedef struct AnalyzeOpt AnalyzeOpt;

/* json_path NULL: *out = NULL and nothing happens later. Else the pass is
 * opened with the default settings for a stream with header h; input is
 * the stream's path (its name goes into the JSON). 0, or -1 after saying
 * why. */
int analyze_opt_open(AnalyzeOpt **out, const char *json_path, const char *input,
                     const ArgSequenceHeader *h);
/* The tokens of one packet whose first picture is `first` (pictures missing
 * before it, e.g. packets dropped before a keyframe, are skipped). An error
 * of the pass is kept and reported by finish; returns 0 or that error. */
int analyze_opt_tokens(AnalyzeOpt *a, const ArgTokens *t, int64_t first);
/* End of stream: finish the pass and write the JSON (fail: a failure
 * message instead, e.g. when decoding stopped). 0 or -1. */
int analyze_opt_finish(AnalyzeOpt *a, const char *fail);
void analyze_opt_close(AnalyzeOpt *a);

#endif
