/*
 * Unit test of the command-line toolkit (tools/common/cli.h): the option
 * table of every kind and its refusals, --help and --version, time and bit
 * rate values, the overwrite policy, atomic outputs, the interrupt path
 * (in forked children), the progress line and the JSON writer.
 * Prints "N passed, M failed" and exits non-zero when anything failed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp */
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arg/arg.h"
#include "cli.h"
#include "y4m.h"

static int n_pass, n_fail;

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (cond) {                                                           \
            n_pass++;                                                         \
        } else {                                                              \
            n_fail++;                                                         \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);   \
            fprintf(stderr, __VA_ARGS__);                                     \
            fputc('\n', stderr);                                              \
        }                                                                     \
    } while (0)

static char g_dir[256];

/* ------------------------------------------------------------ capturing */

/* Redirect fd (1 or 2) into a temporary file until capture_end. */
typedef struct Capture {
    int fd, saved;
    FILE *file;
} Capture;

static void capture_begin(Capture *c, int fd)
{
    fflush(stdout);
    fflush(stderr);
    c->fd = fd;
    c->file = tmpfile();
    c->saved = dup(fd);
    if (!c->file || c->saved < 0 || dup2(fileno(c->file), fd) < 0) {
        perror("capture");
        exit(2);
    }
}

/* The captured text (free it). */
static char *capture_end(Capture *c)
{
    fflush(stdout);
    fflush(stderr);
    dup2(c->saved, c->fd);
    close(c->saved);
    long n = ftell(c->file);
    if (n < 0)
        n = 0;
    char *s = calloc(1, (size_t)n + 1);
    rewind(c->file);
    if (s && fread(s, 1, (size_t)n, c->file) != (size_t)n)
        s[0] = 0;
    fclose(c->file);
    return s;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *s = malloc(1 << 16);
    size_t n = s ? fread(s, 1, (1 << 16) - 1, f) : 0;
    fclose(f);
    if (s)
        s[n] = 0;
    if (len)
        *len = n;
    return s;
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Files in g_dir whose name starts with prefix. */
static int count_prefix(const char *prefix)
{
    DIR *d = opendir(g_dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (!strncmp(e->d_name, prefix, strlen(prefix)))
            n++;
    if (d)
        closedir(d);
    return n;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
}

/* ---------------------------------------------------------- the options */

typedef struct Opts {
    int flag, mode, q, backend, gemm, device, count, size[2];
    int64_t frames, rate;
    double gain, start;
    const char *in, *out, *inputs[2];
    int n_inputs;
} Opts;

static Opts g_o;

static int parse_size(const char *arg, void *dest)
{
    int *wh = dest, w, h, n = 0;
    if (sscanf(arg, "%dx%d%n", &w, &h, &n) != 2 || arg[n] || w < 1 || h < 1 || w > 16384 || h > 16384)
        return -1;
    wh[0] = w;
    wh[1] = h;
    return 0;
}

static const CliChoice mode_choices[] = { { "fast", 1 }, { "slow", 2 }, { NULL, 0 } };

static const CliOpt t_opts[] = {
    CLI_OPT_LIST("-i --input", g_o.inputs, 2, &g_o.n_inputs, "FILE", "an input (twice at most)"),
    CLI_OPT_STRING("-o", &g_o.out, "FILE", "the output"),
    CLI_OPT_INT("-q", &g_o.q, 0, 2, "N", "operating point"),
    CLI_OPT_INT64("-frames:v --frames", &g_o.frames, 1, INT64_MAX, "N", "at most N pictures"),
    CLI_OPT_DOUBLE("--gain", &g_o.gain, 0, 100, "G", "a gain"),
    CLI_OPT_TIME("-ss --start", &g_o.start, 0, 86400, "TIME", "start time"),
    CLI_OPT_BITRATE("-b:a", &g_o.rate, 6000, 510000, "RATE", "audio bit rate"),
    CLI_OPT_ENUM("--mode", &g_o.mode, mode_choices, "M", "fast or slow"),
    CLI_OPT_GEMM("--gemm", &g_o.gemm),
    CLI_OPT_BACKEND(&g_o.backend),
    CLI_OPT_DEVICE(&g_o.device),
    CLI_OPT_CUSTOM("-s --size", g_o.size, parse_size, "WxH, each 1..16384", "WxH", "picture size"),
    CLI_OPT_FLAG("-v --verbose", &g_o.flag, "more words\non two lines"),
    CLI_OPT_FLAG("--quiet", &cli_quiet, "fewer words"),
    CLI_OPT_OVERWRITE_YES,
    CLI_OPT_OVERWRITE_NO,
    { .names = "--hidden", .kind = CLI_INT, .dest = &g_o.count, .imin = 0, .imax = 9, .help = "not listed",
      .flags = CLI_HIDDEN },
    CLI_OPT_END,
};

static const CliHint t_hints[] = {
    { "-crf -b:v", "ARG has no rate control; pick an operating point with -q N (0..2)" },
    CLI_HINT_END,
};

static CliTool t_tool = {
    .name = "tcli",
    .synopsis = "-i INPUT [options]",
    .about = "A tool to test the toolkit.",
    .opts = t_opts,
    .hints = t_hints,
    .epilog = "The end.",
};

/* Parse a NULL-terminated list of words after the tool's name. */
static int parse_words(const CliTool *t, const char *const *words)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = (char *)"tcli";
    for (int i = 0; words[i]; i++)
        argv[argc++] = (char *)words[i];
    argv[argc] = NULL;
    memset(&g_o, 0, sizeof(g_o));
    cli_quiet = 0;
    cli_overwrite = CLI_OVERWRITE_ASK;
    return cli_parse(t, argc, argv);
}

#define PARSE(...) parse_words(&t_tool, (const char *const[]){ __VA_ARGS__, NULL })

/* Parse must fail with a message that holds every expected piece. */
#define REFUSED(expect1, expect2, ...)                                                   \
    do {                                                                                 \
        Capture cap_;                                                                    \
        capture_begin(&cap_, 2);                                                         \
        int rc_ = PARSE(__VA_ARGS__);                                                    \
        char *err_ = capture_end(&cap_);                                                 \
        const char *m_ = cli_last_message();                                             \
        CHECK(rc_ == -EINVAL, "rc %d for %s", rc_, #__VA_ARGS__);                        \
        CHECK(strstr(m_, expect1) && strstr(m_, expect2), "message '%s' for %s lacks '%s' '%s'", \
              m_, #__VA_ARGS__, expect1, expect2);                                       \
        CHECK(err_ && !strncmp(err_, "tcli: ", 6) && strchr(err_, '\n') == err_ + strlen(err_) - 1, \
              "stderr '%s' is not one 'tcli: ' line", err_ ? err_ : "");                 \
        free(err_);                                                                      \
    } while (0)

static void test_parse_kinds(void)
{
    int rc = PARSE("-i", "a.y4m", "--input", "b.wav", "-o", "out.mkv", "-q", "2", "-frames:v", "10",
                   "--gain", "2.5", "-ss", "1:02.5", "-b:a", "64k", "--mode", "slow", "--gemm", "blas",
                   "--backend", "cpu", "--device", "3", "-s", "640x360", "-v", "-y");
    CHECK(rc == 0, "rc %d (%s)", rc, cli_last_message());
    CHECK(g_o.n_inputs == 2 && !strcmp(g_o.inputs[0], "a.y4m") && !strcmp(g_o.inputs[1], "b.wav"),
          "inputs %d", g_o.n_inputs);
    CHECK(g_o.out && !strcmp(g_o.out, "out.mkv"), "out");
    CHECK(g_o.q == 2, "q %d", g_o.q);
    CHECK(g_o.frames == 10, "frames %lld", (long long)g_o.frames);
    CHECK(g_o.gain == 2.5, "gain %g", g_o.gain);
    CHECK(fabs(g_o.start - 62.5) < 1e-12, "start %g", g_o.start);
    CHECK(g_o.rate == 64000, "rate %lld", (long long)g_o.rate);
    CHECK(g_o.mode == 2, "mode %d", g_o.mode);
    CHECK(g_o.gemm == ARG_GEMM_BLAS, "gemm %d", g_o.gemm);
    CHECK(g_o.backend == ARG_BACKEND_CPU, "backend %d", g_o.backend);
    CHECK(g_o.device == 4, "device %d (N + 1)", g_o.device);
    CHECK(g_o.size[0] == 640 && g_o.size[1] == 360, "size %dx%d", g_o.size[0], g_o.size[1]);
    CHECK(g_o.flag == 1, "flag");
    CHECK(cli_overwrite == CLI_OVERWRITE_YES, "-y");
    CHECK(cli_given(&g_o.q) && cli_given(&g_o.gain) && !cli_given(&g_o.count), "cli_given");

    /* --x=v is --x v; the long and ffmpeg spellings reach the same option */
    rc = PARSE("--input=x.y4m", "--frames=7", "--gain=0", "--start=90s", "--mode=fast", "--size=2x3");
    CHECK(rc == 0 && g_o.n_inputs == 1 && !strcmp(g_o.inputs[0], "x.y4m") && g_o.frames == 7 &&
          g_o.gain == 0 && g_o.start == 90 && g_o.mode == 1 && g_o.size[0] == 2 && g_o.size[1] == 3,
          "--x=v forms: rc %d (%s)", rc, cli_last_message());
    /* a value is the next word even when it starts with '-' */
    rc = PARSE("-i", "-", "-o", "-");
    CHECK(rc == 0 && !strcmp(g_o.inputs[0], "-") && !strcmp(g_o.out, "-"), "'-' as a value");
    /* --x= gives an empty value: refused for a file name */
    REFUSED("-o wants a non-empty FILE", "got ''", "-o", "");
    REFUSED("--input wants a non-empty FILE", "''", "--input=");
    rc = PARSE("--quiet");
    CHECK(rc == 0 && cli_quiet == 1, "--quiet sets cli_quiet");
    cli_quiet = 0;
    rc = PARSE("-n");
    CHECK(rc == 0 && cli_overwrite == CLI_OVERWRITE_NO, "-n");
    rc = PARSE("-y", "-y");
    CHECK(rc == 0 && cli_overwrite == CLI_OVERWRITE_YES, "-y twice");
}

static void test_parse_refusals(void)
{
    /* integers */
    REFUSED("-q wants an integer 0..2", "got 'abc'", "-q", "abc");
    CHECK(!strcmp(cli_last_message(), "-q wants an integer 0..2, got 'abc'"), "exact text: '%s'",
          cli_last_message());
    REFUSED("-q wants an integer 0..2", "got '-1'", "-q", "-1");
    REFUSED("-q wants an integer 0..2", "got '3'", "-q", "3");
    REFUSED("-q wants an integer 0..2", "got '1x'", "-q", "1x");
    REFUSED("-q wants an integer 0..2", "got ' 1'", "-q", " 1");
    REFUSED("-q wants an integer 0..2", "got '1.0'", "-q", "1.0");
    REFUSED("-q wants an integer 0..2", "got '0x1'", "-q", "0x1");
    REFUSED("-q wants an integer 0..2", "got ''", "-q", "");
    REFUSED("--frames wants an integer >= 1", "got '-3'", "--frames", "-3");
    REFUSED("-frames:v wants an integer >= 1", "got 'abc'", "-frames:v", "abc");
    REFUSED("--frames wants an integer >= 1", "got '0'", "--frames=0");
    REFUSED("--frames wants an integer >= 1", "'99999999999999999999'", "--frames", "99999999999999999999");
    REFUSED("--hidden wants an integer 0..9", "got '10'", "--hidden", "10");
    /* doubles */
    REFUSED("--gain wants a number 0..100", "got 'nan'", "--gain", "nan");
    REFUSED("--gain wants a number 0..100", "got 'inf'", "--gain", "inf");
    REFUSED("--gain wants a number 0..100", "got '1e999'", "--gain", "1e999");
    REFUSED("--gain wants a number 0..100", "got '0x10'", "--gain", "0x10");
    REFUSED("--gain wants a number 0..100", "got '100.5'", "--gain", "100.5");
    REFUSED("--gain wants a number 0..100", "got '5 '", "--gain", "5 ");
    REFUSED("--gain wants a number 0..100", "got '-0.1'", "--gain", "-0.1");
    /* times, bit rates */
    REFUSED("-ss wants a time", "got 'abc'", "-ss", "abc");
    REFUSED("-ss wants a time", "0..86400 s", "-ss", "-1");
    REFUSED("--start wants a time", "got '1:60'", "--start", "1:60");
    REFUSED("-b:a wants a bit rate 6k..510k", "got '50x'", "-b:a", "50x");
    REFUSED("-b:a wants a bit rate 6k..510k", "got '5k'", "-b:a", "5k");
    REFUSED("-b:a wants a bit rate 6k..510k", "got '1M'", "-b:a", "1M");
    REFUSED("-b:a wants a bit rate", "got '-64k'", "-b:a", "-64k");
    /* enums and custom values */
    REFUSED("--mode wants fast or slow", "got 'medium'", "--mode", "medium");
    REFUSED("--gemm wants auto, builtin, blas, reference or int8", "got 'fast'", "--gemm", "fast");
    REFUSED("--backend wants cpu, vulkan or auto", "got 'gpu'", "--backend", "gpu");
    REFUSED("--device wants a device number 0..255", "got '256'", "--device", "256");
    REFUSED("--device wants a device number 0..255", "got '-1'", "--device", "-1");
    REFUSED("-s wants WxH, each 1..16384", "got '640x'", "-s", "640x");
    /* shapes of the command line */
    REFUSED("-q needs a value (N)", "", "-q");
    REFUSED("--input needs a value (FILE)", "", "--input");
    REFUSED("--verbose takes no value", "got '1'", "--verbose=1");
    REFUSED("--help takes no value", "", "--help=x");
    REFUSED("unknown option '--bogus'", "try --help", "--bogus");
    REFUSED("unknown option '--bogus'", "try --help", "--bogus=1");
    REFUSED("unknown option '-x'", "", "-x", "1");
    REFUSED("unknown option '-gain'", "did you mean --gain?", "-gain", "2");
    REFUSED("-crf is not supported: ARG has no rate control", "-q N (0..2)", "-crf", "20");
    REFUSED("-b:v is not supported", "no rate control", "-b:v", "50k");
    REFUSED("unexpected argument 'stray'", "", "-q", "1", "stray");
    REFUSED("unexpected argument 'x'", "", "--", "x");
    REFUSED("unexpected argument '-'", "", "-");
    REFUSED("-i is given more than 2 times", "'c'", "-i", "a", "-i", "b", "-i", "c");
    REFUSED("-n contradicts -y", "", "-y", "-n");
    /* an option with a value is given once */
    REFUSED("-q is given twice ('0', then '1')", "", "-q", "0", "-q", "1");
    REFUSED("--frames is given twice ('3', then '4')", "", "-frames:v", "3", "--frames=4");
    REFUSED("-o is given twice ('a', then 'b')", "", "-o", "a", "-o", "b");
    CHECK(PARSE("-v", "-v", "--verbose") == 0 && g_o.flag == 1, "flags may repeat");
    REFUSED("-y contradicts --no-overwrite", "", "--no-overwrite", "-y");
    /* no abbreviations of long names, no bundling of short ones */
    REFUSED("unknown option '--gai'", "", "--gai", "1");
    REFUSED("unknown option '-vy'", "", "-vy");
    /* "--" ends the options */
    CHECK(PARSE("-q", "1", "--") == 0, "a final --");

    /* a required option */
    static CliOpt req[3];
    memcpy(req, t_opts, sizeof(req[0]));
    req[0].flags = CLI_REQUIRED;
    req[1] = (CliOpt)CLI_OPT_FLAG("-z", &g_o.flag, "z");
    req[2] = (CliOpt)CLI_OPT_END;
    CliTool rt = t_tool;
    rt.opts = req;
    Capture cap;
    capture_begin(&cap, 2);
    int rc = parse_words(&rt, (const char *const[]){ "-z", NULL });
    free(capture_end(&cap));
    CHECK(rc == -EINVAL && strstr(cli_last_message(), "-i FILE is required"), "required: %d '%s'", rc,
          cli_last_message());
    CHECK(parse_words(&rt, (const char *const[]){ "-i", "f", NULL }) == 0, "required given");
}

static void test_help_version(void)
{
    Capture cap;
    capture_begin(&cap, 1);
    int rc = PARSE("--help");
    char *out = capture_end(&cap);
    CHECK(rc == CLI_DONE, "--help rc %d", rc);
    static const char head[] = "usage: tcli -i INPUT [options]\n\nA tool to test the toolkit.\n\n";
    CHECK(out && !strncmp(out, head, strlen(head)),
          "usage head: '%.80s'", out ? out : "");
    CHECK(out && strstr(out, "The end.\n"), "epilog");
    CHECK(out && !strstr(out, "--hidden"), "hidden options are not listed");
    /* one column: every help text starts at the same offset */
    int col = -1, lines = 0, same = 1;
    const char *wanted[] = { "an input (twice at most)", "the output", "operating point", "at most N pictures",
                             "audio bit rate", "more words", "on two lines", "print this help and exit",
                             "print the version and exit", "overwrite output files that exist", NULL };
    for (int i = 0; out && wanted[i]; i++) {
        const char *p = strstr(out, wanted[i]);
        if (!p) {
            CHECK(0, "help lacks '%s'", wanted[i]);
            continue;
        }
        const char *bol = p;
        while (bol > out && bol[-1] != '\n')
            bol--;
        int c = (int)(p - bol);
        if (col < 0)
            col = c;
        same &= c == col;
        lines++;
    }
    CHECK(same && col > 10, "help column %d not shared", col);
    CHECK(out && strstr(out, "  -i, --input FILE"), "short, long and metavar");
    CHECK(out && strstr(out, "  -frames:v, --frames N"), "ffmpeg and GNU spellings");
    CHECK(out && strstr(out, "      --gain G"), "long-only options are indented past the short ones");
    CHECK(out && strstr(out, "  -h, --help"), "built-in --help listed");
    free(out);

    capture_begin(&cap, 1);
    rc = PARSE("-h");
    out = capture_end(&cap);
    CHECK(rc == CLI_DONE && out && !strncmp(out, "usage: tcli", 11), "-h");
    free(out);

    capture_begin(&cap, 1);
    rc = PARSE("-q", "1", "--version");
    out = capture_end(&cap);
    char want[128];
    snprintf(want, sizeof(want), "tcli (ARG) %s\n", arg_version());
    CHECK(rc == CLI_DONE && out && !strcmp(out, want), "--version: rc %d '%s'", rc, out ? out : "");
    CHECK(strlen(arg_version()) > 0 && strchr(arg_version(), '.'), "a version number");
    free(out);

    /* --help after a bad value: the error wins */
    capture_begin(&cap, 2);
    Capture cap1;
    capture_begin(&cap1, 1);
    rc = PARSE("-q", "x", "--help");
    char *o1 = capture_end(&cap1);
    free(capture_end(&cap));
    CHECK(rc == -EINVAL && o1 && !*o1, "error before --help: rc %d, stdout '%s'", rc, o1 ? o1 : "");
    free(o1);
}

static void test_values(void)
{
    static const struct { const char *s; double v; } times[] = {
        { "0", 0 }, { "12.5", 12.5 }, { "90s", 90 }, { "1500ms", 1.5 }, { "250000us", 0.25 },
        { "1:02.5", 62.5 }, { "00:01:02.5", 62.5 }, { "1:00:00", 3600 }, { "90:00", 5400 },
        { ".5", 0.5 }, { "7.", 7 }, { "-2", -2 }, { "+3", 3 }, { "0:59.999", 59.999 },
    };
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        double v = -99;
        int rc = cli_parse_time(times[i].s, &v);
        CHECK(rc == 0 && fabs(v - times[i].v) < 1e-9, "time '%s' = %g (rc %d), want %g", times[i].s, v, rc,
              times[i].v);
    }
    static const char *const bad_times[] = {
        "", "abc", "1:60", "1:2:60", "1:60:00", "1::2", ":5", "5:", "1:2:3:4", "1e3", "12 s", " 12",
        "12sec", "1.5:00", "nan", "inf", "0x10", "1:-5", "s", "-", "1:02.5s", NULL,
    };
    for (int i = 0; bad_times[i]; i++) {
        double v = -99;
        CHECK(cli_parse_time(bad_times[i], &v) < 0 && v == -99, "time '%s' accepted as %g", bad_times[i], v);
    }
    static const struct { const char *s; long long v; } rates[] = {
        { "64000", 64000 }, { "64k", 64000 }, { "64K", 64000 }, { "1.5M", 1500000 }, { "1G", 1000000000 },
        { "0.5k", 500 }, { "96.5k", 96500 }, { "1.0005k", 1001 },
    };
    for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
        long long v = -1;
        int rc = cli_parse_bitrate(rates[i].s, &v);
        CHECK(rc == 0 && v == rates[i].v, "rate '%s' = %lld (rc %d), want %lld", rates[i].s, v, rc, rates[i].v);
    }
    static const char *const bad_rates[] = { "", "k", "50x", "-64k", "64 k", "64kk", "64m", "1e3", "nan",
                                             "0x40", "99999999999G", "64kbps", " 64k", NULL };
    for (int i = 0; bad_rates[i]; i++) {
        long long v = -1;
        CHECK(cli_parse_bitrate(bad_rates[i], &v) < 0 && v == -1, "rate '%s' accepted as %lld", bad_rates[i], v);
    }
    long long iv;
    CHECK(cli_parse_int64("9223372036854775807", 0, LLONG_MAX, &iv) == 0 && iv == LLONG_MAX, "int64 max");
    CHECK(cli_parse_int64("9223372036854775808", 0, LLONG_MAX, &iv) == -ERANGE, "int64 overflow");
    CHECK(cli_parse_int64("+5", 0, 9, &iv) == 0 && iv == 5, "+5");
    CHECK(cli_parse_int64("-", -9, 9, &iv) == -EINVAL, "'-'");
    double dv;
    CHECK(cli_parse_double("1e-3", 0, 1, &dv) == 0 && dv == 1e-3, "1e-3");
    CHECK(cli_parse_double("1e-400", 0, 1, &dv) < 0, "underflow refused");
    CHECK(cli_parse_double("1e", 0, 1e9, &dv) == -EINVAL, "1e");
    CHECK(cli_parse_double(".", 0, 1e9, &dv) == -EINVAL, ".");
    CHECK(cli_parse_double("-.5", -1, 0, &dv) == 0 && dv == -0.5, "-.5");
}

/* ------------------------------------------------------- output files */

static void test_overwrite(void)
{
    char path[512], dir[512];
    snprintf(path, sizeof(path), "%s/exists.txt", g_dir);
    snprintf(dir, sizeof(dir), "%s/adir", g_dir);
    write_text(path, "old");
    mkdir(dir, 0755);
    Capture cap;

    cli_overwrite = CLI_OVERWRITE_ASK;
    capture_begin(&cap, 2);
    int rc = cli_check_overwrite(path);
    char *err = capture_end(&cap);
    char want[700];
    snprintf(want, sizeof(want), "tcli: '%s' exists; use -y to overwrite\n", path);
    CHECK(rc == -EEXIST && err && !strcmp(err, want), "neither -y nor -n: rc %d '%s'", rc, err ? err : "");
    free(err);

    cli_overwrite = CLI_OVERWRITE_NO;
    capture_begin(&cap, 2);
    rc = cli_check_overwrite(path);
    free(capture_end(&cap));
    CHECK(rc == -EEXIST && strstr(cli_last_message(), "exists and -n forbids overwriting it"), "-n: %d '%s'", rc,
          cli_last_message());

    cli_overwrite = CLI_OVERWRITE_YES;
    CHECK(cli_check_overwrite(path) == 0, "-y allows it");

    for (int m = 0; m < 3; m++) {
        cli_overwrite = m;
        char missing[600];
        snprintf(missing, sizeof(missing), "%s/missing.txt", g_dir);
        CHECK(cli_check_overwrite(missing) == 0, "a new file is always fine (mode %d)", m);
        CHECK(cli_check_overwrite("-") == 0, "stdout is always fine (mode %d)", m);
        CHECK(cli_check_overwrite("/dev/null") == 0, "a device is written in place (mode %d)", m);
        capture_begin(&cap, 2);
        rc = cli_check_overwrite(dir);
        free(capture_end(&cap));
        CHECK(rc == -EISDIR, "a directory is refused (mode %d): %d", m, rc);
    }

    /* cli_out_open applies the policy and leaves the old file alone */
    cli_overwrite = CLI_OVERWRITE_ASK;
    CliOut o;
    capture_begin(&cap, 2);
    rc = cli_out_open(&o, path);
    free(capture_end(&cap));
    char *s = read_file(path, NULL);
    CHECK(rc == -EEXIST && o.f == NULL && s && !strcmp(s, "old"), "refused open: %d", rc);
    CHECK(count_prefix("exists.txt.tmp.") == 0, "no temporary file after a refusal");
    free(s);

    cli_overwrite = CLI_OVERWRITE_YES;
    rc = cli_out_open(&o, path);
    CHECK(rc == 0 && o.f, "-y open: %d", rc);
    if (rc == 0) {
        fputs("new", o.f);
        CHECK(cli_out_commit(&o) == 0, "-y commit");
    }
    s = read_file(path, NULL);
    CHECK(s && !strcmp(s, "new"), "-y replaced the file: '%s'", s ? s : "");
    free(s);
    cli_overwrite = CLI_OVERWRITE_ASK;
}

static void test_atomic_output(void)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/out.bin", g_dir);
    static const mode_t masks[] = { 022, 027, 077, 0 };
    for (int i = 0; i < 4; i++) {
        unlink(path);
        mode_t old = umask(masks[i]);
        CliOut o;
        int rc = cli_out_open(&o, path);
        CHECK(rc == 0 && o.f && o.tmp && !o.to_stdout && !o.in_place, "open %d", rc);
        if (rc < 0) {
            umask(old);
            continue;
        }
        CHECK(!strncmp(o.tmp, path, strlen(path)) && !strncmp(o.tmp + strlen(path), ".tmp.", 5) &&
              strlen(o.tmp) == strlen(path) + 11, "temporary name '%s'", o.tmp);
        CHECK(exists(o.tmp) && !exists(path), "only the temporary file exists while writing");
        fputs("payload", o.f);
        rc = cli_out_commit(&o);
        umask(old);
        struct stat st;
        CHECK(rc == 0 && stat(path, &st) == 0, "commit %d", rc);
        CHECK((st.st_mode & 0777) == (0666 & ~masks[i]), "mode %o with umask %03o, want %o",
              (unsigned)(st.st_mode & 0777), (unsigned)masks[i], (unsigned)(0666 & ~masks[i]));
        char *s = read_file(path, NULL);
        CHECK(s && !strcmp(s, "payload"), "content");
        free(s);
        CHECK(count_prefix("out.bin.tmp.") == 0, "no temporary file left");
        CHECK(o.f == NULL && o.tmp == NULL && o.path == NULL, "commit clears the CliOut");
    }

    /* abort: nothing left, an existing file untouched */
    unlink(path);
    CliOut o;
    CHECK(cli_out_open(&o, path) == 0, "open for abort");
    fputs("junk", o.f);
    cli_out_abort(&o);
    CHECK(!exists(path) && count_prefix("out.bin.tmp.") == 0, "abort leaves no file");
    cli_out_abort(&o); /* a cleared CliOut is fine */
    write_text(path, "keep");
    cli_overwrite = CLI_OVERWRITE_YES;
    CHECK(cli_out_open(&o, path) == 0, "open over an existing file");
    fputs("junk", o.f);
    cli_out_abort(&o);
    char *s = read_file(path, NULL);
    CHECK(s && !strcmp(s, "keep") && count_prefix("out.bin.tmp.") == 0, "abort keeps the old file");
    free(s);

    /* without -y, a file that appears while writing is not replaced */
    unlink(path);
    cli_overwrite = CLI_OVERWRITE_ASK;
    CHECK(cli_out_open(&o, path) == 0, "open");
    fputs("result", o.f);
    char tmp[600];
    snprintf(tmp, sizeof(tmp), "%s", o.tmp);
    write_text(path, "someone else's");
    Capture cap;
    capture_begin(&cap, 2);
    int rc = cli_out_commit(&o);
    free(capture_end(&cap));
    s = read_file(path, NULL);
    char *t = read_file(tmp, NULL);
    CHECK(rc == -EEXIST && s && !strcmp(s, "someone else's") && t && !strcmp(t, "result"),
          "race: rc %d, file '%s', kept '%s'", rc, s ? s : "", t ? t : "");
    CHECK(strstr(cli_last_message(), tmp) != NULL, "the message names the kept file: '%s'", cli_last_message());
    free(s);
    free(t);
    CHECK(cli_tmp_unregister(tmp) == -ENOENT, "the kept file is no longer registered");
    unlink(tmp);

    /* a device is written in place */
    CHECK(cli_out_open(&o, "/dev/null") == 0 && o.in_place && !o.tmp, "/dev/null in place");
    fputs("x", o.f);
    struct stat st;
    CHECK(cli_out_commit(&o) == 0 && stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode), "/dev/null kept");

    /* a missing folder */
    char bad[600];
    snprintf(bad, sizeof(bad), "%s/no/such/dir/x.json", g_dir);
    capture_begin(&cap, 2);
    rc = cli_out_open(&o, bad);
    free(capture_end(&cap));
    CHECK(rc == -ENOENT && strstr(cli_last_message(), bad), "missing folder: %d '%s'", rc, cli_last_message());

    /* a Y4M stream through a CliOut */
    snprintf(path, sizeof(path), "%s/clip.y4m", g_dir);
    unlink(path);
    CHECK(cli_out_open(&o, path) == 0, "open y4m");
    Y4mInfo info = { .width = 4, .height = 2, .fps_num = 25, .fps_den = 1, .chroma = Y4M_C444 };
    Y4mWriter *w = NULL;
    char err[256] = "";
    rc = y4m_writer_open_stream(&w, o.f, path, &info, err, sizeof(err));
    CHECK(rc == 0, "y4m stream: %s", err);
    Y4mImage img;
    CHECK(y4m_image_alloc(&img, 4, 2, Y4M_C444) == 0, "image");
    for (int p = 0; p < 3; p++)
        for (int y = 0; y < 2; y++)
            memset(img.data[p] + y * img.stride[p], 16 * (p + 1) + y, 4);
    CHECK(w && y4m_writer_write(w, &img) == 0 && y4m_writer_write(w, &img) == 0, "two frames");
    CHECK(y4m_writer_close(w, err, sizeof(err)) == 0, "close: %s", err);
    CHECK(!exists(path), "the stream writer does not commit the file");
    CHECK(cli_out_commit(&o) == 0, "commit y4m");
    Y4mReader *r = NULL;
    CHECK(y4m_reader_open(&r, path, err, sizeof(err)) == 0, "read back: %s", err);
    int frames = 0;
    while (r && y4m_reader_read(r, &img) > 0)
        frames++;
    CHECK(frames == 2 && img.data[2][img.stride[2]] == 49, "2 frames read back (%d)", frames);
    y4m_reader_close(r);
    y4m_image_free(&img);
}

/* "-" writes to stdout (no file), once; in a child, which owns its stdout. */
static void test_stdout_output(void)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/stdout.txt", g_dir);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || dup2(fd, 1) < 0)
            _exit(20);
        int e = open("/dev/null", O_WRONLY);
        dup2(e, 2);
        if (cli_report_stream() != stdout)
            _exit(21);
        CliOut o, o2;
        if (cli_out_open(&o, "-") < 0 || o.f != stdout || o.tmp || !o.to_stdout)
            _exit(22);
        if (cli_out_open(&o2, "-") != -EBUSY)
            _exit(23);
        if (cli_report_stream() != stderr)
            _exit(24);
        fputs("to stdout", o.f);
        if (cli_out_commit(&o) < 0)
            _exit(25);
        if (fcntl(1, F_GETFD) < 0)
            _exit(26); /* stdout still open */
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "stdout child: status %d", WEXITSTATUS(st));
    char *s = read_file(path, NULL);
    CHECK(s && !strcmp(s, "to stdout"), "stdout content '%s'", s ? s : "");
    CHECK(count_prefix("-") == 0, "no file named '-'");
    free(s);
}

/* ----------------------------------------------------------- interrupts */

/* In a child: install the handlers, register a, register and unregister b,
 * create c unregistered; send sig1 and (if nonzero) sig2. Exit statuses
 * below 20 are the child's own failures. */
static void signal_child(int graceful, int sig1, int sig2, const char *a, const char *b, const char *c,
                         const char *errpath)
{
    int e = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (e < 0 || dup2(e, 2) < 0)
        _exit(10);
    cli_set_tool("tsig");
    cli_quiet = 0;
    write_text(a, "a");
    write_text(b, "b");
    write_text(c, "c");
    /* the test may run where SIGINT is ignored (a background job) */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    if (cli_signals_install(graceful) < 0)
        _exit(11);
    if (cli_tmp_register(a) < 0 || cli_tmp_register(b) < 0 || cli_tmp_unregister(b) < 0)
        _exit(12);
    if (cli_interrupted() != 0)
        _exit(13);
    raise(sig1);
    /* graceful: only the flag is set, nothing removed */
    if (cli_interrupted() != sig1)
        _exit(14);
    if (!exists(a))
        _exit(15);
    if (cli_interrupt_status() != 128 + sig1)
        _exit(16);
    if (!sig2)
        _exit(0);
    raise(sig2);
    _exit(17); /* not reached */
}

static void run_signal_case(const char *name, int graceful, int sig1, int sig2, int want_status, int a_gone)
{
    char a[512], b[512], c[512], errp[512];
    snprintf(a, sizeof(a), "%s/sig-a.tmp.X", g_dir);
    snprintf(b, sizeof(b), "%s/sig-b.tmp.X", g_dir);
    snprintf(c, sizeof(c), "%s/sig-c", g_dir);
    snprintf(errp, sizeof(errp), "%s/sig-err.txt", g_dir);
    unlink(a);
    unlink(b);
    unlink(c);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0)
        signal_child(graceful, sig1, sig2, a, b, c, errp);
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid, "%s: waitpid", name);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == want_status, "%s: exit %d (signalled %d), want %d", name,
          WIFEXITED(st) ? WEXITSTATUS(st) : -1, WIFSIGNALED(st) ? WTERMSIG(st) : 0, want_status);
    CHECK(exists(a) == !a_gone, "%s: the registered file is %s", name, a_gone ? "not removed" : "removed");
    CHECK(exists(b), "%s: an unregistered file is kept", name);
    CHECK(exists(c), "%s: a file never registered is kept", name);
    char *err = read_file(errp, NULL);
    if (a_gone)
        CHECK(err && strstr(err, "tsig: interrupted"), "%s: message '%s'", name, err ? err : "");
    free(err);
    unlink(a);
    unlink(b);
    unlink(c);
}

static void test_signals(void)
{
    /* graceful: one signal sets the flag; the child then exits on its own */
    run_signal_case("one SIGINT", 1, SIGINT, 0, 0, 0);
    run_signal_case("two SIGINT", 1, SIGINT, SIGINT, 130, 1);
    run_signal_case("two SIGTERM", 1, SIGTERM, SIGTERM, 143, 1);
    run_signal_case("SIGINT then SIGTERM", 1, SIGINT, SIGTERM, 143, 1);

    /* not graceful: the first signal removes and exits */
    char a[512], errp[512];
    snprintf(a, sizeof(a), "%s/sig-now.tmp.X", g_dir);
    snprintf(errp, sizeof(errp), "%s/sig-now-err.txt", g_dir);
    write_text(a, "a");
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(e, 2);
        signal(SIGTERM, SIG_DFL);
        cli_signals_install(0);
        cli_tmp_register(a);
        raise(SIGTERM);
        _exit(3);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 143, "immediate SIGTERM: status %d", WEXITSTATUS(st));
    CHECK(!exists(a), "immediate SIGTERM removed the temporary file");

    /* a signal ignored from the start stays ignored */
    pid = fork();
    if (pid == 0) {
        signal(SIGINT, SIG_IGN);
        signal(SIGTERM, SIG_DFL);
        cli_quiet = 1; /* no message */
        cli_signals_install(1);
        raise(SIGINT);
        if (cli_interrupted())
            _exit(4);
        raise(SIGTERM);
        _exit(cli_interrupted() == SIGTERM ? 0 : 5);
    }
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "an ignored SIGINT: status %d", WEXITSTATUS(st));

    /* the registry itself */
    char p[CLI_TMP_PATH_MAX + 8];
    memset(p, 'x', sizeof(p) - 1);
    p[sizeof(p) - 1] = 0;
    CHECK(cli_tmp_register(p) == -ENAMETOOLONG, "a path too long");
    int n = 0;
    char names[CLI_TMP_MAX + 1][32];
    for (int i = 0; i <= CLI_TMP_MAX; i++) {
        snprintf(names[i], sizeof(names[i]), "reg-%d", i);
        if (cli_tmp_register(names[i]) == 0)
            n++;
    }
    CHECK(n == CLI_TMP_MAX, "registry holds %d, want %d", n, CLI_TMP_MAX);
    CHECK(cli_tmp_register("one more") == -ENOSPC, "a full registry says so");
    for (int i = 0; i <= CLI_TMP_MAX; i++)
        cli_tmp_unregister(names[i]);
    CHECK(cli_tmp_register("again") == 0 && cli_tmp_unregister("again") == 0, "slots are reused");
    CHECK(cli_tmp_unregister("again") == -ENOENT, "unknown path");
}

/* -------------------------------------------------------------- progress */

static double g_clock;
static double fake_clock(void)
{
    return g_clock;
}

static void test_progress(void)
{
    CliProgress p;
    FILE *f = tmpfile();
    cli_quiet = 0;
    cli_progress_start(&p, 100, 1);
    CHECK(p.enabled, "forced progress is on");
    p.f = f;
    p.clock = fake_clock;
    g_clock = 10;
    p.t0 = 10;
    p.tty = 0; /* lines of their own */
    g_clock = 10.5;
    cli_progress_update(&p, 5, "latent %d", 2);   /* shown: the first */
    g_clock = 11.0;
    cli_progress_update(&p, 6, NULL);             /* too soon */
    g_clock = 12.0;
    cli_progress_update(&p, 20, "x");             /* 10 fps, 80 left */
    cli_progress_end(&p);
    long n = ftell(f);
    char buf[1024] = "";
    rewind(f);
    size_t got = fread(buf, 1, sizeof(buf) - 1, f);
    buf[got] = 0;
    CHECK(n > 0 && !strcmp(buf, "tcli: frame 5/100  10.0 fps  ETA 10 s  latent 2\n"
                                "tcli: frame 20/100  10.0 fps  ETA 8 s  x\n"),
          "progress lines:\n%s", buf);
    fclose(f);

    /* a terminal: rewritten in place, at most 4 times a second, cleared */
    f = tmpfile();
    cli_progress_start(&p, 0, 1);
    p.f = f;
    p.clock = fake_clock;
    p.t0 = g_clock = 0;
    p.tty = 1;
    g_clock = 1;
    cli_progress_update(&p, 30, NULL);
    g_clock = 1.1;
    cli_progress_update(&p, 33, NULL);
    g_clock = 1.3;
    cli_progress_update(&p, 39, NULL);
    Capture cap;
    capture_begin(&cap, 2);
    cli_warn("careful");
    free(capture_end(&cap));
    cli_progress_end(&p);
    rewind(f);
    got = fread(buf, 1, sizeof(buf) - 1, f);
    buf[got] = 0;
    fclose(f);
    CHECK(!strcmp(buf, "\r\033[Kframe 30  30.0 fps\r\033[Kframe 39  30.0 fps\r\033[K"),
          "terminal progress '%s'", buf);
    CHECK(!strcmp(cli_last_message(), "careful"), "warning text");

    /* quiet, or not a terminal and not forced: nothing */
    cli_quiet = 1;
    cli_progress_start(&p, 10, 1);
    CHECK(!p.enabled, "quiet disables progress");
    cli_quiet = 0;
    cli_progress_start(&p, 10, 0);
    CHECK(p.enabled == isatty(2), "unforced progress follows isatty(2)");
}

/* ------------------------------------------------------------------ JSON */

static char *json_of(void (*fn)(CliJson *), int pretty, int *finish)
{
    FILE *f = tmpfile();
    CliJson j;
    cli_json_init(&j, f, pretty);
    fn(&j);
    *finish = cli_json_finish(&j);
    long n = ftell(f);
    char *s = calloc(1, (size_t)(n > 0 ? n : 0) + 1);
    rewind(f);
    if (fread(s, 1, (size_t)n, f) != (size_t)n)
        s[0] = 0;
    fclose(f);
    return s;
}

static char *escaped(const char *in)
{
    FILE *f = tmpfile();
    cli_json_escape(f, in);
    long n = ftell(f);
    char *s = calloc(1, (size_t)n + 1);
    rewind(f);
    if (fread(s, 1, (size_t)n, f) != (size_t)n)
        s[0] = 0;
    fclose(f);
    return s;
}

static void doc(CliJson *j)
{
    cli_json_object_begin(j);
    cli_json_key(j, "name");
    cli_json_string(j, "a\"b");
    cli_json_key(j, "n");
    cli_json_int(j, -3);
    cli_json_key(j, "big");
    cli_json_uint(j, UINT64_MAX);
    cli_json_key(j, "list");
    cli_json_array_begin(j);
    cli_json_double(j, 0.5, "%.3f");
    cli_json_double(j, NAN, "%.3f");
    cli_json_double(j, INFINITY, NULL);
    cli_json_bool(j, 1);
    cli_json_null(j);
    cli_json_array_end(j);
    cli_json_key(j, "empty");
    cli_json_object_begin(j);
    cli_json_object_end(j);
    cli_json_object_end(j);
}

static void bad_doc(CliJson *j)
{
    cli_json_object_begin(j);
    cli_json_array_end(j);
    cli_json_string(j, "x");
}

static void key_outside(CliJson *j)
{
    cli_json_key(j, "k");
    cli_json_int(j, 1);
}

static void value_without_key(CliJson *j)
{
    cli_json_object_begin(j);
    cli_json_int(j, 1);
    cli_json_object_end(j);
}

static void two_documents(CliJson *j)
{
    cli_json_int(j, 1);
    cli_json_int(j, 2);
}

static void test_json(void)
{
    static const struct { const char *in, *out; } esc[] = {
        { "plain", "\"plain\"" },
        { "q\"uote", "\"q\\\"uote\"" },
        { "back\\slash", "\"back\\\\slash\"" },
        { "nl\ntab\tcr\rbs\bff\f", "\"nl\\ntab\\tcr\\rbs\\bff\\f\"" },
        { "\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"" },
        { "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xac", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xac\"" },
        { "bad\xff", "\"bad\\ufffd\"" },
        { "cut\xc3", "\"cut\\ufffd\"" },
        { "over\xc0\xaf", "\"over\\ufffd\\ufffd\"" },
        { "sur\xed\xa0\x80", "\"sur\\ufffd\\ufffd\\ufffd\"" },
        { "big\xf4\x90\x80\x80", "\"big\\ufffd\\ufffd\\ufffd\\ufffd\"" },
        { "/slash", "\"/slash\"" },
        { "", "\"\"" },
    };
    for (size_t i = 0; i < sizeof(esc) / sizeof(esc[0]); i++) {
        char *s = escaped(esc[i].in);
        CHECK(s && !strcmp(s, esc[i].out), "escape %zu: got %s, want %s", i, s ? s : "", esc[i].out);
        free(s);
    }
    int fin;
    char *s = json_of(doc, 0, &fin);
    CHECK(fin == 0 && !strcmp(s, "{\"name\": \"a\\\"b\", \"n\": -3, \"big\": 18446744073709551615, "
                                 "\"list\": [0.500, null, null, true, null], \"empty\": {}}\n"),
          "compact: %s", s);
    free(s);
    s = json_of(doc, 1, &fin);
    CHECK(fin == 0 && !strcmp(s, "{\n  \"name\": \"a\\\"b\",\n  \"n\": -3,\n  \"big\": 18446744073709551615,\n"
                                 "  \"list\": [0.500, null, null, true, null],\n  \"empty\": {}\n}\n"),
          "pretty 1: %s", s);
    free(s);
    s = json_of(doc, 2, &fin);
    CHECK(fin == 0 && !strcmp(s, "{\n  \"name\": \"a\\\"b\",\n  \"n\": -3,\n  \"big\": 18446744073709551615,\n"
                                 "  \"list\": [\n    0.500,\n    null,\n    null,\n    true,\n    null\n  ],\n"
                                 "  \"empty\": {}\n}\n"),
          "pretty: %s", s);
    free(s);
    s = json_of(bad_doc, 0, &fin);
    CHECK(fin == -EINVAL, "misnesting is reported");
    free(s);
    s = json_of(key_outside, 0, &fin);
    CHECK(fin == -EINVAL, "a key outside an object is reported");
    free(s);
    s = json_of(value_without_key, 0, &fin);
    CHECK(fin == -EINVAL, "a member without a key is reported");
    free(s);
    s = json_of(two_documents, 0, &fin);
    CHECK(fin == -EINVAL, "two documents are reported");
    free(s);
}

/* ------------------------------------------------------------ messages */

static void test_messages(void)
{
    Capture cap;
    cli_set_tool("tmsg");
    capture_begin(&cap, 2);
    cli_error("bad %d", 1);
    cli_warn("odd");
    cli_info("note");
    cli_quiet = 1;
    cli_info("hidden");
    cli_error("still shown");
    cli_quiet = 0;
    char *s = capture_end(&cap);
    CHECK(s && !strcmp(s, "tmsg: bad 1\ntmsg: warning: odd\ntmsg: note\ntmsg: still shown\n"), "messages '%s'",
          s ? s : "");
    free(s);
    CHECK(!strcmp(cli_tool(), "tmsg"), "tool name");
    cli_set_tool("tcli");
}

int main(void)
{
    snprintf(g_dir, sizeof(g_dir), "/tmp/test_cli.XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 2;
    }
    cli_set_tool("tcli");
    test_parse_kinds();
    test_parse_refusals();
    test_help_version();
    test_values();
    test_overwrite();
    test_atomic_output();
    test_stdout_output();
    test_signals();
    test_progress();
    test_json();
    test_messages();

    /* clean up the folder */
    DIR *d = opendir(g_dir);
    struct dirent *e;
    char p[600];
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(p, sizeof(p), "%s/%s", g_dir, e->d_name);
        if (unlink(p) != 0)
            rmdir(p);
    }
    if (d)
        closedir(d);
    rmdir(g_dir);
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail != 0;
}
