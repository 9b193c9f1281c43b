/* The command-line toolkit of the ARG tools: options, messages, output
 * files, interrupts, progress and JSON, so that every tool spells, checks
 * and reports things the same way.
 *
 * Options come from a declarative table. Spellings are whole words: ffmpeg
 * style single-dash names ("-i", "-ss", "-b:a", "-frames:v") take their
 * value from the next argument; GNU "--long" names take it from the next
 * argument or after '=' ("--frames=10"). A value is always the next
 * argument, even when it starts with '-' ("-i -", "--frames -3" is then
 * refused as out of range, not taken as an option). Nothing is bundled or
 * abbreviated. An option with a value may be given once (a CLI_LIST up to
 * its count); flags may repeat. Every tool also understands -h/--help and
 * --version.
 *
 * Numbers are strict: no leading blanks, no trailing junk, no NaN or
 * infinity, no hexadecimal, and they must lie in the option's range; the
 * refusal names the option, what it accepts and what it got:
 *     argenc: -q wants an integer 0..2, got 'abc'
 * Usage errors exit with CLI_EXIT_USAGE (2), failures with CLI_EXIT_FAIL (1).
 *
 * Messages go to stderr as "TOOL: ...", data to stdout. The toolkit keeps
 * process-wide state (the tool's name, the quiet flag, the overwrite policy,
 * the temporary files, the interrupt flag): a process runs one tool.
 */
#ifndef ARG_TOOLS_CLI_H
#define ARG_TOOLS_CLI_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

/* ------------------------------------------------------------- options */

typedef enum CliKind {
    CLI_FLAG,     /* int *: set to 1; takes no value */
    CLI_CONST,    /* int *: set to .value; takes no value. Two CLI_CONST
                   * options of one destination given with different values
                   * contradict each other (-y and -n) */
    CLI_STRING,   /* const char **: the argument (not empty) */
    CLI_LIST,     /* const char **: an array of .max_count entries, filled in
                   * the order given; *.count receives how many */
    CLI_INT,      /* int *: decimal integer in [.imin, .imax] */
    CLI_INT64,    /* int64_t *: decimal integer in [.imin, .imax] */
    CLI_DOUBLE,   /* double *: decimal number in [.dmin, .dmax] */
    CLI_TIME,     /* double *: seconds in [.dmin, .dmax]: "12.5", "90s",
                   * "1500ms", "1:02.5", "00:01:02.5" (minutes and seconds
                   * below 60 after a colon) */
    CLI_BITRATE,  /* int64_t *: bits per second in [.imin, .imax]: "64000",
                   * "64k", "1.5M", "1G" (k = 1000); rounded to an integer */
    CLI_ENUM,     /* int *: the .value of the chosen name in .choices */
    CLI_CUSTOM,   /* .parse(arg, dest) returns 0, or <0 to refuse with
                   * "wants " .expect */
} CliKind;

/* One name of a CLI_ENUM and the value it stands for; a list ends with a
 * NULL name. */
typedef struct CliChoice {
    const char *name;
    int value;
} CliChoice;

enum {
    CLI_REQUIRED = 1 << 0, /* refuse to run without it */
    CLI_HIDDEN = 1 << 1,   /* accepted but not listed by --help */
    CLI_EMPTY_OK = 1 << 2, /* CLI_STRING / CLI_LIST: "" is a valid value */
};

typedef struct CliOpt {
    const char *names;      /* spellings, separated by spaces: "-i --input" */
    CliKind kind;
    void *dest;
    const char *metavar;    /* the value's name in --help ("FILE"); NULL
                             * gives N, X, T, RATE, WORD or VALUE */
    const char *help;       /* may hold '\n' for more lines */
    long long imin, imax;   /* CLI_INT, CLI_INT64, CLI_BITRATE */
    double dmin, dmax;      /* CLI_DOUBLE, CLI_TIME */
    const CliChoice *choices; /* CLI_ENUM */
    int value;              /* CLI_CONST */
    int max_count;          /* CLI_LIST */
    int *count;             /* CLI_LIST */
    int (*parse)(const char *arg, void *dest); /* CLI_CUSTOM */
    const char *expect;     /* CLI_CUSTOM: what it accepts ("WxH, e.g. 640x360") */
    unsigned flags;         /* CLI_REQUIRED, CLI_HIDDEN, CLI_EMPTY_OK */
} CliOpt;

/* An option the tool knows of but does not offer: using it gives
 * "TOOL: NAME is not supported: WHY" instead of "unknown option". */
typedef struct CliHint {
    const char *names;      /* spellings, separated by spaces */
    const char *why;
} CliHint;

typedef struct CliTool {
    const char *name;       /* "argtok": the prefix of every message */
    const char *synopsis;   /* after "usage: NAME " */
    const char *about;      /* a paragraph after the usage line, or NULL */
    const CliOpt *opts;     /* ends with an entry whose names is NULL */
    const CliHint *hints;   /* ends with an entry whose names is NULL; or NULL */
    const char *epilog;     /* printed after the options, or NULL */
} CliTool;

/* Table entries. The destination's type must match the kind (see CliKind). */
#define CLI_OPT_FLAG(n_, d_, help_) \
    { .names = (n_), .kind = CLI_FLAG, .dest = (d_), .help = (help_) }
#define CLI_OPT_CONST(n_, d_, v_, help_) \
    { .names = (n_), .kind = CLI_CONST, .dest = (d_), .value = (v_), .help = (help_) }
#define CLI_OPT_STRING(n_, d_, meta_, help_) \
    { .names = (n_), .kind = CLI_STRING, .dest = (d_), .metavar = (meta_), .help = (help_) }
#define CLI_OPT_LIST(n_, d_, max_, count_, meta_, help_) \
    { .names = (n_), .kind = CLI_LIST, .dest = (d_), .max_count = (max_), .count = (count_), \
      .metavar = (meta_), .help = (help_) }
#define CLI_OPT_INT(n_, d_, lo_, hi_, meta_, help_) \
    { .names = (n_), .kind = CLI_INT, .dest = (d_), .imin = (lo_), .imax = (hi_), \
      .metavar = (meta_), .help = (help_) }
#define CLI_OPT_INT64(n_, d_, lo_, hi_, meta_, help_) \
    { .names = (n_), .kind = CLI_INT64, .dest = (d_), .imin = (lo_), .imax = (hi_), \
      .metavar = (meta_), .help = (help_) }
#define CLI_OPT_DOUBLE(n_, d_, lo_, hi_, meta_, help_) \
    { .names = (n_), .kind = CLI_DOUBLE, .dest = (d_), .dmin = (lo_), .dmax = (hi_), \
      .metavar = (meta_), .help = (help_) }
#define CLI_OPT_TIME(n_, d_, lo_, hi_, meta_, help_) \
    { .names = (n_), .kind = CLI_TIME, .dest = (d_), .dmin = (lo_), .dmax = (hi_), \
      .metavar = (meta_), .help = (help_) }
#define CLI_OPT_BITRATE(n_, d_, lo_, hi_, meta_, help_) \
    { .names = (n_), .kind = CLI_BITRATE, .dest = (d_), .imin = (lo_), .imax = (hi_), \
      .metavar = (meta_), .help = (help_) }
#define CLI_OPT_ENUM(n_, d_, choices_, meta_, help_) \
    { .names = (n_), .kind = CLI_ENUM, .dest = (d_), .choices = (choices_), \
      .metavar = (meta_), .help = (help_) }
#define CLI_OPT_CUSTOM(n_, d_, parse_, expect_, meta_, help_) \
    { .names = (n_), .kind = CLI_CUSTOM, .dest = (d_), .parse = (parse_), .expect = (expect_), \
      .metavar = (meta_), .help = (help_) }
#define CLI_OPT_END { .names = NULL }
#define CLI_HINT_END { .names = NULL, .why = NULL }

/* Parse argv against the tool's table (sets the tool's name first).
 * Returns 0 to go on, CLI_DONE after printing --help or --version on
 * stdout, or -EINVAL after printing why on stderr. */
#define CLI_DONE 1
int cli_parse(const CliTool *tool, int argc, char **argv);
/* cli_parse, then exit(0) after --help/--version and exit(2) on an error. */
void cli_parse_or_exit(const CliTool *tool, int argc, char **argv);
/* The usage generated from the table (one column for all options). */
void cli_usage(const CliTool *tool, FILE *f);
/* "TOOL (ARG) VERSION\n", the version from arg_version(). */
void cli_version(FILE *f);
/* Whether the option writing to dest was given in the last cli_parse. */
int cli_given(const void *dest);

/* The value parsers behind the kinds, for values that do not come from
 * argv (environment variables, files): 0 or -EINVAL / -ERANGE. */
int cli_parse_int64(const char *s, long long lo, long long hi, long long *out);
int cli_parse_double(const char *s, double lo, double hi, double *out);
int cli_parse_time(const char *s, double *seconds);
int cli_parse_bitrate(const char *s, long long *bps);

/* Shared option values: ArgBackend (cpu, vulkan, auto) and ArgGemm (auto,
 * builtin, blas, reference, int8) names, and --device N (stored as N + 1, the
 * ArgSettings.device convention; 0..255). */
extern const CliChoice cli_backend_choices[];
extern const CliChoice cli_gemm_choices[];
int cli_parse_device(const char *arg, void *dest /* int * */);
#define CLI_BACKEND_HELP \
    "cpu | vulkan | auto (default auto: a Vulkan GPU if one\n" \
    "is usable, else the CPU; vulkan also takes software\n" \
    "devices such as lavapipe)"
#define CLI_OPT_BACKEND(d_) \
    CLI_OPT_ENUM("--backend", (d_), cli_backend_choices, "B", CLI_BACKEND_HELP)
#define CLI_OPT_DEVICE(d_) \
    CLI_OPT_CUSTOM("--device", (d_), cli_parse_device, "a device number 0..255", "N", \
                   "Vulkan device N (vulkaninfo's GPU numbering;\n" \
                   "default: ARG_DEVICE or the best)")
#define CLI_OPT_GEMM(n_, d_) \
    CLI_OPT_ENUM((n_), (d_), cli_gemm_choices, "KIND", \
                 "auto (default: builtin; int8 for the decoder on AVX2\n" \
                 "or AVX-512 VNNI), builtin, blas, reference or int8\n" \
                 "(int8 encoder too when named: ~4x faster, other\n" \
                 "tokens, same quality; spec/precision.md)")

/* ------------------------------------------------------------ messages */

/* Set by the tool's quiet option (a table entry may point at it): no
 * cli_info, no progress line. Errors and warnings are still printed. */
extern int cli_quiet;

/* The name messages start with (cli_parse sets it). */
void cli_set_tool(const char *name);
const char *cli_tool(void);
/* "TOOL: message\n" on stderr; cli_warn adds "warning: "; cli_info prints
 * nothing when quiet. A progress line on the terminal is cleared first. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_verror(const char *fmt, va_list ap);
/* The last message cli_error / cli_warn printed (without prefix or newline). */
const char *cli_last_message(void);

/* -------------------------------------------------------- output files */

/* Overwrite policy, as ffmpeg's -y and -n mean it. Without either an
 * existing file is refused (the tools never prompt). */
enum { CLI_OVERWRITE_ASK = 0, CLI_OVERWRITE_YES = 1, CLI_OVERWRITE_NO = 2 };
extern int cli_overwrite;
#define CLI_OPT_OVERWRITE_YES \
    CLI_OPT_CONST("-y --overwrite", &cli_overwrite, CLI_OVERWRITE_YES, "overwrite output files that exist")
#define CLI_OPT_OVERWRITE_NO \
    CLI_OPT_CONST("-n --no-overwrite", &cli_overwrite, CLI_OVERWRITE_NO, \
                  "never overwrite an output file (fail instead)")

/* May the tool write path? 0 when it is "-", does not exist, is not a
 * regular file (a device or FIFO is written in place) or -y was given;
 * otherwise prints why and returns -EEXIST:
 *     argenc: 'out.mkv' exists; use -y to overwrite
 *     argenc: 'out.mkv' exists and -n forbids overwriting it
 * A directory gives -EISDIR. Call it for every output right after parsing,
 * so that a refusal comes before the work. */
int cli_check_overwrite(const char *path);

/* Standard output carries at most one data stream: an output on "-" claims
 * it (what names it in the refusal). -EBUSY when already claimed. */
int cli_stdout_claim(const char *what);
/* Where a report goes: stdout, or stderr when an output took stdout. */
FILE *cli_report_stream(void);

/* One output file, written atomically. */
typedef struct CliOut {
    FILE *f;            /* write here */
    char *path;         /* final name; NULL for stdout */
    char *tmp;          /* PATH.tmp.XXXXXX; NULL for stdout or in place */
    int to_stdout;      /* "-" */
    int in_place;       /* an existing device or FIFO, written directly */
} CliOut;

/* Open path for writing: "-" is stdout (claimed, see cli_stdout_claim); an
 * existing device or FIFO is written in place; any other path goes to a
 * new PATH.tmp.XXXXXX in the same folder with 0666 & ~umask permissions,
 * registered for removal on a hard interrupt. Applies cli_check_overwrite.
 * Prints why and returns a negative errno on failure. */
int cli_out_open(CliOut *o, const char *path);
/* Flush and close; rename the temporary file over PATH (without -y, a PATH
 * that appeared meanwhile is not replaced: the result stays in the
 * temporary file, which is named). Prints why and returns a negative errno
 * on failure, after removing the temporary file. The CliOut is cleared. */
int cli_out_commit(CliOut *o);
/* Close and remove the temporary file. A cleared CliOut is allowed. */
void cli_out_abort(CliOut *o);
/* Give a file made with mkstemp the permissions of a new file: 0666 & ~umask. */
int cli_fix_mode(int fd);

/* --------------------------------------------------------- interrupts */

/* Temporary files removed when the tool is stopped by a signal (the
 * container writer and others that make their own PATH.tmp.XXXXXX register
 * it here). At most CLI_TMP_MAX at a time, each shorter than
 * CLI_TMP_PATH_MAX. 0, -ENOSPC or -ENAMETOOLONG. */
#define CLI_TMP_MAX 16
#define CLI_TMP_PATH_MAX 4096
int cli_tmp_register(const char *path);
/* Forget path (after renaming or removing it); -ENOENT if unknown. */
int cli_tmp_unregister(const char *path);

/* Handle SIGINT and SIGTERM. graceful: the first signal only sets a flag
 * that the tool polls with cli_interrupted() to stop cleanly (finish the
 * GOP, close the file); the second removes every registered temporary file
 * and exits at once with 128 + signal (130, 143). Not graceful: the first
 * signal does that. A signal that was ignored when the tool started (nohup,
 * a background job of a script) stays ignored. 0 or -errno. */
int cli_signals_install(int graceful);
/* The signal that asked the tool to stop, or 0. */
int cli_interrupted(void);
/* 128 + cli_interrupted(): the exit status of a tool stopped cleanly. */
int cli_interrupt_status(void);

/* ------------------------------------------------------------ progress */

/* A status line on stderr, rewritten in place:
 *     frame 120/300  12.3 fps  ETA 15 s  latent 30
 * Shown when stderr is a terminal (or when forced) and not quiet; redrawn
 * at most every 0.25 s; TOTAL 0 means unknown (no ETA). When forced onto a
 * file or pipe each update is a line of its own. */
typedef struct CliProgress {
    int enabled, tty;
    FILE *f;            /* stderr unless set after cli_progress_start */
    int64_t total;
    double t0, t_last;
    int shown;          /* a line is on the terminal */
    double (*clock)(void); /* seconds; NULL: cli_now. A test may set it
                            * (and t0) after cli_progress_start */
} CliProgress;
void cli_progress_start(CliProgress *p, int64_t total, int force);
/* Redraw if 0.25 s passed since the last redraw; extra may be NULL. */
void cli_progress_update(CliProgress *p, int64_t done, const char *extra_fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Clear the line. Call it before p goes out of scope once it was updated
 * (the messages clear a line shown on the terminal). */
void cli_progress_end(CliProgress *p);
/* Seconds on the monotonic clock. */
double cli_now(void);

/* ---------------------------------------------------------------- JSON */

/* A small streaming JSON writer: values are separated and nested
 * correctly; strings are escaped (quote, backslash, control characters;
 * bytes that are not UTF-8 become U+FFFD); NaN and infinities become null.
 * pretty N: the members and elements of the first N levels go on lines of
 * their own, indented by two spaces a level; deeper ones stay on one line
 * (0: the whole document on one line). */
#define CLI_JSON_DEPTH 16
typedef struct CliJson {
    FILE *f;
    int pretty;         /* levels laid out one member per line */
    int depth;
    int count[CLI_JSON_DEPTH]; /* values written at each level */
    char type[CLI_JSON_DEPTH]; /* '{' or '[' */
    int after_key;
    int top;            /* values written at the top level */
    int error;          /* misuse: nesting, a key outside an object or
                         * without a value, two documents */
} CliJson;
void cli_json_init(CliJson *j, FILE *f, int pretty);
void cli_json_object_begin(CliJson *j);
void cli_json_object_end(CliJson *j);
void cli_json_array_begin(CliJson *j);
void cli_json_array_end(CliJson *j);
void cli_json_key(CliJson *j, const char *key);
void cli_json_string(CliJson *j, const char *s);
void cli_json_int(CliJson *j, int64_t v);
void cli_json_uint(CliJson *j, uint64_t v);
/* fmt is a printf format for one double ("%.6f"); NULL gives "%.17g". */
void cli_json_double(CliJson *j, double v, const char *fmt);
void cli_json_bool(CliJson *j, int v);
void cli_json_null(CliJson *j);
/* End the document (a newline); 0, or -EINVAL when nesting was wrong. */
int cli_json_finish(CliJson *j);
/* s as a JSON string literal, quotes included. */
void cli_json_escape(FILE *f, const char *s);

#endif
