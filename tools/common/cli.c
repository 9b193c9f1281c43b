/* The command-line toolkit of the ARG tools (cli.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkstemp, fdopen, renameat2 */
#endif

#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arg/arg.h"

/* ---------------------------------------------------------------- state */

int cli_quiet;
int cli_overwrite = CLI_OVERWRITE_ASK;

static char g_tool[64] = "arg";
static char g_last[1024];
static const char *g_stdout_owner;
static CliProgress *g_progress; /* the line on the terminal, if any */

#define CLI_MAX_OPTS 128
static const CliOpt *g_opts;    /* the table of the last cli_parse */
static unsigned char g_seen[CLI_MAX_OPTS];
static char g_seen_as[CLI_MAX_OPTS][48]; /* the spelling used */
static const char *g_seen_val[CLI_MAX_OPTS]; /* the value given */

static void signal_messages(void);

void cli_set_tool(const char *name)
{
    snprintf(g_tool, sizeof(g_tool), "%s", name && *name ? name : "arg");
    signal_messages();
}

const char *cli_tool(void)
{
    return g_tool;
}

/* ------------------------------------------------------------- messages */

static void progress_clear(void)
{
    CliProgress *p = g_progress;
    if (p && p->shown && p->tty) {
        fputs("\r\033[K", p->f);
        fflush(p->f);
        p->shown = 0;
    }
}

static void vmsg(const char *kind, const char *fmt, va_list ap)
{
    va_list aq;
    va_copy(aq, ap);
    vsnprintf(g_last, sizeof(g_last), fmt, aq);
    va_end(aq);
    progress_clear();
    fprintf(stderr, "%s: %s%s\n", g_tool, kind, g_last);
    fflush(stderr);
}

void cli_verror(const char *fmt, va_list ap)
{
    vmsg("", fmt, ap);
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg("", fmt, ap);
    va_end(ap);
}

void cli_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg("warning: ", fmt, ap);
    va_end(ap);
}

void cli_info(const char *fmt, ...)
{
    if (cli_quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    progress_clear();
    fprintf(stderr, "%s: ", g_tool);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    fflush(stderr);
    va_end(ap);
}

const char *cli_last_message(void)
{
    return g_last;
}

/* -------------------------------------------------------------- numbers */

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Length of "digits[.digits]" or ".digits" at s (0 if none). */
static size_t decimal_len(const char *s)
{
    size_t i = 0, d = 0;
    while (is_digit(s[i]))
        i++, d++;
    if (s[i] == '.') {
        i++;
        while (is_digit(s[i]))
            i++, d++;
    }
    return d ? i : 0;
}

int cli_parse_int64(const char *s, long long lo, long long hi, long long *out)
{
    if (!s)
        return -EINVAL;
    size_t i = s[0] == '-' || s[0] == '+';
    if (!is_digit(s[i]))
        return -EINVAL;
    for (size_t k = i; s[k]; k++)
        if (!is_digit(s[k]))
            return -EINVAL;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno == ERANGE)
        return -ERANGE;
    if (errno || end == s || *end)
        return -EINVAL;
    if (v < lo || v > hi)
        return -ERANGE;
    *out = v;
    return 0;
}

/* strtod on a string already checked to be plain decimal. */
static int to_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end)
        return -EINVAL;
    if (errno == ERANGE || !isfinite(v))
        return -ERANGE;
    *out = v;
    return 0;
}

int cli_parse_double(const char *s, double lo, double hi, double *out)
{
    if (!s)
        return -EINVAL;
    size_t i = s[0] == '-' || s[0] == '+';
    size_t n = decimal_len(s + i);
    if (!n)
        return -EINVAL;
    i += n;
    if (s[i] == 'e' || s[i] == 'E') {
        i++;
        if (s[i] == '-' || s[i] == '+')
            i++;
        if (!is_digit(s[i]))
            return -EINVAL;
        while (is_digit(s[i]))
            i++;
    }
    if (s[i])
        return -EINVAL;
    double v;
    int rc = to_double(s, &v);
    if (rc < 0)
        return rc;
    if (v < lo || v > hi)
        return -ERANGE;
    *out = v;
    return 0;
}

/* A decimal field of a time: "digits[.digits]" (frac) or "digits". */
static int time_field(const char *s, size_t len, int frac, double *out)
{
    char buf[64];
    if (len == 0 || len >= sizeof(buf))
        return -EINVAL;
    memcpy(buf, s, len);
    buf[len] = 0;
    size_t n = frac ? decimal_len(buf) : 0;
    if (!frac)
        while (is_digit(buf[n]))
            n++;
    if (n != len || !is_digit(buf[0]))
        return -EINVAL;
    return to_double(buf, out);
}

int cli_parse_time(const char *s, double *seconds)
{
    if (!s)
        return -EINVAL;
    int neg = s[0] == '-';
    const char *p = s + (s[0] == '-' || s[0] == '+');
    double v;
    const char *c1 = strchr(p, ':');
    if (c1) {
        const char *c2 = strchr(c1 + 1, ':');
        if (c2 && strchr(c2 + 1, ':'))
            return -EINVAL;
        double h = 0, m, sec;
        int rc;
        if (c2) {   /* H:MM:SS[.s] */
            if ((rc = time_field(p, (size_t)(c1 - p), 0, &h)) < 0 ||
                (rc = time_field(c1 + 1, (size_t)(c2 - c1 - 1), 0, &m)) < 0 ||
                (rc = time_field(c2 + 1, strlen(c2 + 1), 1, &sec)) < 0)
                return rc;
            if (m >= 60)
                return -EINVAL;
        } else {    /* M:SS[.s] */
            if ((rc = time_field(p, (size_t)(c1 - p), 0, &m)) < 0 ||
                (rc = time_field(c1 + 1, strlen(c1 + 1), 1, &sec)) < 0)
                return rc;
        }
        if (sec >= 60)
            return -EINVAL;
        v = h * 3600 + m * 60 + sec;
    } else {
        size_t n = decimal_len(p);
        if (!n)
            return -EINVAL;
        double unit = 1;
        const char *u = p + n;
        if (!strcmp(u, "s") || !*u)
            unit = 1;
        else if (!strcmp(u, "ms"))
            unit = 1e-3;
        else if (!strcmp(u, "us"))
            unit = 1e-6;
        else
            return -EINVAL;
        char buf[64];
        if (n >= sizeof(buf))
            return -ERANGE;
        memcpy(buf, p, n);
        buf[n] = 0;
        int rc = to_double(buf, &v);
        if (rc < 0)
            return rc;
        v *= unit;
    }
    if (!isfinite(v))
        return -ERANGE;
    *seconds = neg ? -v : v;
    return 0;
}

int cli_parse_bitrate(const char *s, long long *bps)
{
    if (!s)
        return -EINVAL;
    size_t n = decimal_len(s);
    if (!n)
        return -EINVAL;
    double mul = 1;
    const char *u = s + n;
    if (!*u)
        mul = 1;
    else if (!strcmp(u, "k") || !strcmp(u, "K"))
        mul = 1e3;
    else if (!strcmp(u, "M"))
        mul = 1e6;
    else if (!strcmp(u, "G"))
        mul = 1e9;
    else
        return -EINVAL;
    char buf[64];
    if (n >= sizeof(buf))
        return -ERANGE;
    memcpy(buf, s, n);
    buf[n] = 0;
    double v;
    int rc = to_double(buf, &v);
    if (rc < 0)
        return rc;
    v = v * mul;
    if (!(v < 9.0e18))
        return -ERANGE;
    *bps = llround(v);
    return 0;
}

/* ------------------------------------------------------ shared options */

const CliChoice cli_backend_choices[] = {
    { "cpu", ARG_BACKEND_CPU }, { "vulkan", ARG_BACKEND_VULKAN }, { "auto", ARG_BACKEND_AUTO },
    { NULL, 0 },
};

const CliChoice cli_gemm_choices[] = {
    { "auto", ARG_GEMM_AUTO }, { "builtin", ARG_GEMM_BUILTIN }, { "blas", ARG_GEMM_BLAS },
    { "reference", ARG_GEMM_REFERENCE }, { "int8", ARG_GEMM_INT8 },
    { NULL, 0 },
};

int cli_parse_device(const char *arg, void *dest)
{
    long long v;
    if (cli_parse_int64(arg, 0, 255, &v) < 0)
        return -EINVAL;
    *(int *)dest = (int)v + 1;
    return 0;
}

/* -------------------------------------------------------------- parsing */

static int takes_value(const CliOpt *o)
{
    return o->kind != CLI_FLAG && o->kind != CLI_CONST;
}

/* Does the space-separated list `names` hold the word name[0..len)? */
static int names_have(const char *names, const char *name, size_t len)
{
    const char *p = names;
    while (p && *p) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, " ");
        if (n && n == len && !memcmp(p, name, len))
            return 1;
        p += n;
    }
    return 0;
}

static const char *default_metavar(const CliOpt *o)
{
    if (o->metavar)
        return o->metavar;
    switch (o->kind) {
    case CLI_INT:
    case CLI_INT64: return "N";
    case CLI_DOUBLE: return "X";
    case CLI_TIME: return "TIME";
    case CLI_BITRATE: return "RATE";
    case CLI_ENUM: return "WORD";
    default: return "VALUE";
    }
}

static void fmt_rate(char *buf, size_t len, long long v)
{
    if (v >= 1000000 && v % 1000000 == 0)
        snprintf(buf, len, "%lldM", v / 1000000);
    else if (v >= 1000 && v % 1000 == 0)
        snprintf(buf, len, "%lldk", v / 1000);
    else
        snprintf(buf, len, "%lld", v);
}

/* What the option accepts, for "OPT wants ..., got 'x'". */
static void describe(const CliOpt *o, char *buf, size_t len)
{
    char a[32], b[32];
    switch (o->kind) {
    case CLI_INT:
    case CLI_INT64: {
        long long top = o->kind == CLI_INT ? INT_MAX : LLONG_MAX;
        if (o->imax >= top)
            snprintf(buf, len, "an integer >= %lld", o->imin);
        else
            snprintf(buf, len, "an integer %lld..%lld", o->imin, o->imax);
        break;
    }
    case CLI_DOUBLE:
        if (o->dmax >= 1e300)
            snprintf(buf, len, "a number >= %g", o->dmin);
        else
            snprintf(buf, len, "a number %g..%g", o->dmin, o->dmax);
        break;
    case CLI_TIME:
        if (o->dmax >= 1e300)
            snprintf(buf, len, "a time (12.5, 90s, 1:02.5, 0:01:02.5) >= %g s", o->dmin);
        else
            snprintf(buf, len, "a time (12.5, 90s, 1:02.5, 0:01:02.5) in %g..%g s", o->dmin, o->dmax);
        break;
    case CLI_BITRATE:
        fmt_rate(a, sizeof(a), o->imin);
        fmt_rate(b, sizeof(b), o->imax);
        snprintf(buf, len, "a bit rate %s..%s (such as 64k, 1.5M or 64000)", a, b);
        break;
    case CLI_ENUM: {
        size_t n = 0, k = 0;
        while (o->choices && o->choices[n].name)
            n++;
        buf[0] = 0;
        for (size_t i = 0; i < n && k < len; i++) {
            int w = snprintf(buf + k, len - k, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ",
                             o->choices[i].name);
            if (w < 0)
                break;
            k += (size_t)w;
        }
        break;
    }
    case CLI_CUSTOM:
        snprintf(buf, len, "%s", o->expect ? o->expect : "a valid value");
        break;
    default:
        snprintf(buf, len, "a non-empty %s", default_metavar(o));
        break;
    }
}

static int refuse_value(const CliOpt *o, const char *spelled, const char *v)
{
    char d[512];
    describe(o, d, sizeof(d));
    cli_error("%s wants %s, got '%s'", spelled, d, v);
    return -EINVAL;
}

static int apply_value(const CliOpt *o, const char *spelled, const char *v)
{
    long long iv;
    double dv;
    switch (o->kind) {
    case CLI_STRING:
        if (!*v && !(o->flags & CLI_EMPTY_OK))
            return refuse_value(o, spelled, v);
        *(const char **)o->dest = v;
        return 0;
    case CLI_LIST:
        if (!*v && !(o->flags & CLI_EMPTY_OK))
            return refuse_value(o, spelled, v);
        if (*o->count >= o->max_count) {
            cli_error("%s is given more than %d time%s (extra: '%s')", spelled, o->max_count,
                      o->max_count == 1 ? "" : "s", v);
            return -EINVAL;
        }
        ((const char **)o->dest)[(*o->count)++] = v;
        return 0;
    case CLI_INT:
    case CLI_INT64:
        if (cli_parse_int64(v, o->imin, o->imax, &iv) < 0)
            return refuse_value(o, spelled, v);
        if (o->kind == CLI_INT)
            *(int *)o->dest = (int)iv;
        else
            *(int64_t *)o->dest = (int64_t)iv;
        return 0;
    case CLI_DOUBLE:
        if (cli_parse_double(v, o->dmin, o->dmax, &dv) < 0)
            return refuse_value(o, spelled, v);
        *(double *)o->dest = dv;
        return 0;
    case CLI_TIME:
        if (cli_parse_time(v, &dv) < 0 || dv < o->dmin || dv > o->dmax)
            return refuse_value(o, spelled, v);
        *(double *)o->dest = dv;
        return 0;
    case CLI_BITRATE:
        if (cli_parse_bitrate(v, &iv) < 0 || iv < o->imin || iv > o->imax)
            return refuse_value(o, spelled, v);
        *(int64_t *)o->dest = (int64_t)iv;
        return 0;
    case CLI_ENUM:
        for (const CliChoice *c = o->choices; c && c->name; c++)
            if (!strcmp(c->name, v)) {
                *(int *)o->dest = c->value;
                return 0;
            }
        return refuse_value(o, spelled, v);
    case CLI_CUSTOM:
        if (!o->parse || o->parse(v, o->dest) < 0)
            return refuse_value(o, spelled, v);
        return 0;
    default:
        return -EINVAL;
    }
}

int cli_given(const void *dest)
{
    for (int i = 0; g_opts && g_opts[i].names && i < CLI_MAX_OPTS; i++)
        if (g_opts[i].dest == dest && g_seen[i])
            return 1;
    return 0;
}

/* The first word of names, into buf. */
static void first_name(const char *names, char *buf, size_t len)
{
    while (*names == ' ')
        names++;
    size_t n = strcspn(names, " ");
    snprintf(buf, len, "%.*s", (int)n, names);
}

int cli_parse(const CliTool *t, int argc, char **argv)
{
    cli_set_tool(t->name);
    int nopts = 0;
    while (t->opts && t->opts[nopts].names)
        nopts++;
    if (nopts > CLI_MAX_OPTS) {
        cli_error("internal error: more than %d options", CLI_MAX_OPTS);
        return -EINVAL;
    }
    g_opts = t->opts;
    memset(g_seen, 0, sizeof(g_seen));
    for (int k = 0; k < nopts; k++)
        if (t->opts[k].kind == CLI_LIST && t->opts[k].count)
            *t->opts[k].count = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || a[1] == 0 || !strcmp(a, "--")) {
            const char *stray = strcmp(a, "--") ? a : i + 1 < argc ? argv[i + 1] : NULL;
            if (!stray)
                break;
            cli_error("unexpected argument '%s' (options come with a name; try --help)", stray);
            return -EINVAL;
        }
        size_t len = strlen(a);
        const char *inl = NULL;
        if (a[1] == '-') {
            const char *eq = strchr(a, '=');
            if (eq) {
                len = (size_t)(eq - a);
                inl = eq + 1;
            }
        }
        char spelled[48];
        snprintf(spelled, sizeof(spelled), "%.*s", (int)(len < 47 ? len : 47), a);
        int k;
        for (k = 0; k < nopts; k++)
            if (names_have(t->opts[k].names, a, len))
                break;
        if (k == nopts) {
            if ((names_have("-h --help", a, len) || names_have("--version", a, len)) && inl) {
                cli_error("%s takes no value, got '%s'", spelled, inl);
                return -EINVAL;
            }
            if (names_have("-h --help", a, len)) {
                cli_usage(t, stdout);
                return fflush(stdout) == 0 ? CLI_DONE : -EIO;
            }
            if (names_have("--version", a, len)) {
                cli_version(stdout);
                return fflush(stdout) == 0 ? CLI_DONE : -EIO;
            }
            for (const CliHint *h = t->hints; h && h->names; h++)
                if (names_have(h->names, a, len)) {
                    cli_error("%s is not supported: %s", spelled, h->why);
                    return -EINVAL;
                }
            /* -threads for --threads (ffmpeg habits) */
            if (a[1] != '-') {
                char dbl[64];
                snprintf(dbl, sizeof(dbl), "-%s", a);
                for (int m = 0; m < nopts; m++)
                    if (names_have(t->opts[m].names, dbl, strlen(dbl))) {
                        cli_error("unknown option '%s'; did you mean %s?", a, dbl);
                        return -EINVAL;
                    }
            }
            cli_error("unknown option '%s' (try --help)", spelled);
            return -EINVAL;
        }
        const CliOpt *o = &t->opts[k];
        if (!takes_value(o)) {
            if (inl) {
                cli_error("%s takes no value, got '%s'", spelled, inl);
                return -EINVAL;
            }
            if (o->kind == CLI_CONST) {
                for (int m = 0; m < nopts; m++)
                    if (m != k && g_seen[m] && t->opts[m].kind == CLI_CONST &&
                        t->opts[m].dest == o->dest && t->opts[m].value != o->value) {
                        cli_error("%s contradicts %s", spelled, g_seen_as[m]);
                        return -EINVAL;
                    }
                *(int *)o->dest = o->value;
            } else {
                *(int *)o->dest = 1;
            }
        } else {
            const char *v = inl;
            if (!v) {
                if (i + 1 >= argc) {
                    cli_error("%s needs a value (%s)", spelled, default_metavar(o));
                    return -EINVAL;
                }
                v = argv[++i];
            }
            if (g_seen[k] && o->kind != CLI_LIST) {
                cli_error("%s is given twice ('%s', then '%s')", spelled, g_seen_val[k], v);
                return -EINVAL;
            }
            int rc = apply_value(o, spelled, v);
            if (rc < 0)
                return rc;
            g_seen_val[k] = v;
        }
        g_seen[k] = 1;
        snprintf(g_seen_as[k], sizeof(g_seen_as[k]), "%s", spelled);
    }
    for (int k = 0; k < nopts; k++)
        if ((t->opts[k].flags & CLI_REQUIRED) && !g_seen[k]) {
            char n[48];
            first_name(t->opts[k].names, n, sizeof(n));
            if (takes_value(&t->opts[k]))
                cli_error("%s %s is required (try --help)", n, default_metavar(&t->opts[k]));
            else
                cli_error("%s is required (try --help)", n);
            return -EINVAL;
        }
    return 0;
}

void cli_parse_or_exit(const CliTool *t, int argc, char **argv)
{
    int rc = cli_parse(t, argc, argv);
    if (rc == CLI_DONE)
        exit(CLI_EXIT_OK);
    if (rc < 0)
        exit(CLI_EXIT_USAGE);
}

void cli_version(FILE *f)
{
    fprintf(f, "%s (ARG) %s\n", g_tool, arg_version());
}

/* The left column of one option: "-i, --input FILE" ("    --long" when the
 * option has no single-letter spelling). */
static void left_column(const CliOpt *o, char *buf, size_t len)
{
    size_t k = 0;
    const char *p = o->names;
    while (*p == ' ')
        p++;
    int first_short = p[0] == '-' && p[1] && p[1] != '-' && (p[2] == ' ' || !p[2]);
    int first_long = p[0] == '-' && p[1] == '-';
    if (!first_short && first_long)
        k += (size_t)snprintf(buf, len, "    ");
    else
        buf[0] = 0;
    int n = 0;
    while (*p && k < len) {
        size_t w = strcspn(p, " ");
        int c = snprintf(buf + k, len - k, "%s%.*s", n++ ? ", " : "", (int)w, p);
        if (c < 0)
            break;
        k += (size_t)c;
        p += w;
        while (*p == ' ')
            p++;
    }
    if (takes_value(o) && k < len)
        snprintf(buf + k, len - k, " %s", default_metavar(o));
}

static void print_option(FILE *f, const char *left, const char *help, int col)
{
    int w = fprintf(f, "  %s", left);
    if (w >= col) {
        fputc('\n', f);
        w = 0;
    }
    const char *h = help ? help : "";
    for (;;) {
        size_t n = strcspn(h, "\n");
        fprintf(f, "%*s%.*s\n", col - w, "", (int)n, h);
        w = 0;
        if (!h[n])
            break;
        h += n + 1;
    }
}

void cli_usage(const CliTool *t, FILE *f)
{
    fprintf(f, "usage: %s %s\n", t->name, t->synopsis ? t->synopsis : "[options]");
    if (t->about) {
        size_t n = strlen(t->about);
        fprintf(f, "\n%s%s", t->about, n && t->about[n - 1] == '\n' ? "" : "\n");
    }
    fputc('\n', f);
    int have_h = 0, have_version = 0;
    int col = 0;
    char left[256];
    for (const CliOpt *o = t->opts; o && o->names; o++) {
        have_h |= names_have(o->names, "-h", 2) || names_have(o->names, "--help", 6);
        have_version |= names_have(o->names, "--version", 9);
        if (o->flags & CLI_HIDDEN)
            continue;
        left_column(o, left, sizeof(left));
        int w = 2 + (int)strlen(left);
        if (w <= 30 && w > col)
            col = w;
    }
    col = (col < 18 ? 18 : col) + 2;
    for (const CliOpt *o = t->opts; o && o->names; o++) {
        if (o->flags & CLI_HIDDEN)
            continue;
        left_column(o, left, sizeof(left));
        print_option(f, left, o->help, col);
    }
    if (!have_h)
        print_option(f, "-h, --help", "print this help and exit", col);
    if (!have_version)
        print_option(f, "    --version", "print the version and exit", col);
    if (t->epilog) {
        size_t n = strlen(t->epilog);
        fprintf(f, "\n%s%s", t->epilog, n && t->epilog[n - 1] == '\n' ? "" : "\n");
    }
}

/* ---------------------------------------------------------- output files */

int cli_check_overwrite(const char *path)
{
    if (!path || !strcmp(path, "-"))
        return 0;
    struct stat st;
    if (stat(path, &st) != 0)
        return 0; /* missing (or unreachable: opening it will say why) */
    if (S_ISDIR(st.st_mode)) {
        cli_error("cannot write '%s': it is a directory", path);
        return -EISDIR;
    }
    if (!S_ISREG(st.st_mode) || cli_overwrite == CLI_OVERWRITE_YES)
        return 0;
    if (cli_overwrite == CLI_OVERWRITE_NO)
        cli_error("'%s' exists and -n forbids overwriting it", path);
    else
        cli_error("'%s' exists; use -y to overwrite", path);
    return -EEXIST;
}

int cli_stdout_claim(const char *what)
{
    if (g_stdout_owner)
        return -EBUSY;
    g_stdout_owner = what ? what : "output";
    return 0;
}

FILE *cli_report_stream(void)
{
    return g_stdout_owner ? stderr : stdout;
}

static mode_t current_umask(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof(line), f)) {
            unsigned m;
            if (sscanf(line, "Umask: %o", &m) == 1) {
                fclose(f);
                return (mode_t)m;
            }
        }
        fclose(f);
    }
    mode_t m = umask(022);
    umask(m);
    return m;
}

int cli_fix_mode(int fd)
{
    return fchmod(fd, 0666 & ~current_umask()) == 0 ? 0 : -errno;
}

static void out_clear(CliOut *o)
{
    free(o->path);
    free(o->tmp);
    memset(o, 0, sizeof(*o));
}

int cli_out_open(CliOut *o, const char *path)
{
    memset(o, 0, sizeof(*o));
    if (!path || !*path) {
        cli_error("an output needs a file name ('-' for standard output)");
        return -EINVAL;
    }
    if (!strcmp(path, "-")) {
        if (cli_stdout_claim(path) < 0) {
            cli_error("only one output can go to standard output");
            return -EBUSY;
        }
        o->f = stdout;
        o->to_stdout = 1;
        return 0;
    }
    int rc = cli_check_overwrite(path);
    if (rc < 0)
        return rc;
    struct stat st;
    o->path = strdup(path);
    if (!o->path) {
        cli_error("out of memory");
        return -ENOMEM;
    }
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        /* a device or FIFO: write to it, never rename over it or remove it */
        o->f = fopen(path, "wb");
        if (!o->f) {
            int e = errno ? errno : EIO;
            cli_error("cannot open '%s': %s", path, strerror(e));
            out_clear(o);
            return -e;
        }
        o->in_place = 1;
        return 0;
    }
    size_t len = strlen(path);
    if (len + sizeof(".tmp.XXXXXX") > CLI_TMP_PATH_MAX) {
        cli_error("cannot write '%s': %s", path, strerror(ENAMETOOLONG));
        out_clear(o);
        return -ENAMETOOLONG;
    }
    o->tmp = malloc(len + sizeof(".tmp.XXXXXX"));
    if (!o->tmp) {
        cli_error("out of memory");
        out_clear(o);
        return -ENOMEM;
    }
    memcpy(o->tmp, path, len);
    memcpy(o->tmp + len, ".tmp.XXXXXX", sizeof(".tmp.XXXXXX"));
    int fd = mkstemp(o->tmp);
    if (fd < 0) {
        int e = errno ? errno : EIO;
        cli_error("cannot create a temporary file next to '%s': %s", path, strerror(e));
        out_clear(o);
        return -e;
    }
    if ((rc = cli_tmp_register(o->tmp)) < 0 || (rc = cli_fix_mode(fd)) < 0) {
        cli_error("cannot prepare '%s': %s", o->tmp, strerror(-rc));
        close(fd);
        unlink(o->tmp);
        cli_tmp_unregister(o->tmp);
        out_clear(o);
        return rc;
    }
    o->f = fdopen(fd, "wb");
    if (!o->f) {
        int e = errno ? errno : EIO;
        cli_error("cannot open '%s': %s", o->tmp, strerror(e));
        close(fd);
        unlink(o->tmp);
        cli_tmp_unregister(o->tmp);
        out_clear(o);
        return -e;
    }
    return 0;
}

/* rename without replacing an existing dst: -EEXIST if it exists. */
static int rename_noreplace(const char *src, const char *dst)
{
#ifdef RENAME_NOREPLACE
    if (renameat2(AT_FDCWD, src, AT_FDCWD, dst, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
        return -errno;
#endif
    struct stat st;
    if (lstat(dst, &st) == 0)
        return -EEXIST;
    return rename(src, dst) == 0 ? 0 : -errno;
}

int cli_out_commit(CliOut *o)
{
    if (!o->f) {
        cli_error("internal error: committing an output that is not open");
        out_clear(o);
        return -EINVAL;
    }
    int e = 0;
    errno = 0;
    if (fflush(o->f) != 0 || ferror(o->f))
        e = errno ? errno : EIO;
    if (o->to_stdout) {
        if (e)
            cli_error("cannot write to standard output: %s", strerror(e));
        out_clear(o);
        return -e;
    }
    errno = 0;
    if (fclose(o->f) != 0 && !e)
        e = errno ? errno : EIO;
    o->f = NULL;
    if (e) {
        cli_error("cannot write '%s': %s", o->tmp ? o->tmp : o->path, strerror(e));
        if (o->tmp) {
            unlink(o->tmp);
            cli_tmp_unregister(o->tmp);
        }
        out_clear(o);
        return -e;
    }
    if (o->in_place) {
        out_clear(o);
        return 0;
    }
    int rc;
    if (cli_overwrite == CLI_OVERWRITE_YES)
        rc = rename(o->tmp, o->path) == 0 ? 0 : -errno;
    else
        rc = rename_noreplace(o->tmp, o->path);
    cli_tmp_unregister(o->tmp);
    if (rc == -EEXIST) {
        cli_error("'%s' appeared while it was being written; the result is left in '%s'",
                  o->path, o->tmp);
    } else if (rc < 0) {
        cli_error("cannot rename '%s' to '%s': %s", o->tmp, o->path, strerror(-rc));
        unlink(o->tmp);
    }
    out_clear(o);
    return rc;
}

void cli_out_abort(CliOut *o)
{
    if (!o)
        return;
    if (o->to_stdout) {
        fflush(stdout);
    } else {
        if (o->f)
            fclose(o->f);
        if (o->tmp) {
            unlink(o->tmp);
            cli_tmp_unregister(o->tmp);
        }
    }
    out_clear(o);
}

/* ------------------------------------------------------------ interrupts */

static volatile sig_atomic_t g_sig;
static volatile sig_atomic_t g_graceful;
static volatile sig_atomic_t g_tmp_used[CLI_TMP_MAX];
static char g_tmp_path[CLI_TMP_MAX][CLI_TMP_PATH_MAX];
static char g_msg_first[160], g_msg_stop[160];
static size_t g_msg_first_len, g_msg_stop_len;

static void signal_messages(void)
{
    int n = snprintf(g_msg_first, sizeof(g_msg_first),
                     "\n%s: interrupted: finishing cleanly (interrupt again to stop at once)\n", g_tool);
    g_msg_first_len = n < 0 ? 0 : (size_t)n < sizeof(g_msg_first) ? (size_t)n : sizeof(g_msg_first) - 1;
    n = snprintf(g_msg_stop, sizeof(g_msg_stop), "\n%s: interrupted; temporary files removed\n", g_tool);
    g_msg_stop_len = n < 0 ? 0 : (size_t)n < sizeof(g_msg_stop) ? (size_t)n : sizeof(g_msg_stop) - 1;
}

int cli_tmp_register(const char *path)
{
    size_t len = strlen(path);
    if (len >= CLI_TMP_PATH_MAX)
        return -ENAMETOOLONG;
    for (int i = 0; i < CLI_TMP_MAX; i++)
        if (!g_tmp_used[i]) {
            memcpy(g_tmp_path[i], path, len + 1);
            atomic_signal_fence(memory_order_seq_cst);
            g_tmp_used[i] = 1;
            return 0;
        }
    return -ENOSPC;
}

int cli_tmp_unregister(const char *path)
{
    for (int i = 0; i < CLI_TMP_MAX; i++)
        if (g_tmp_used[i] && !strcmp(g_tmp_path[i], path)) {
            g_tmp_used[i] = 0;
            atomic_signal_fence(memory_order_seq_cst);
            return 0;
        }
    return -ENOENT;
}

static void on_signal(int sig)
{
    int saved = errno;
    if (g_graceful && !g_sig) {
        g_sig = sig;
        if (!cli_quiet && g_msg_first_len && write(STDERR_FILENO, g_msg_first, g_msg_first_len) < 0) {
            /* nothing to do */
        }
        errno = saved;
        return;
    }
    for (int i = 0; i < CLI_TMP_MAX; i++)
        if (g_tmp_used[i])
            unlink(g_tmp_path[i]);
    if (g_msg_stop_len && write(STDERR_FILENO, g_msg_stop, g_msg_stop_len) < 0) {
        /* nothing to do */
    }
    _exit(128 + sig);
}

int cli_signals_install(int graceful)
{
    if (!g_msg_stop_len)
        signal_messages();
    g_graceful = graceful != 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGINT);
    sigaddset(&sa.sa_mask, SIGTERM);
    static const int sigs[2] = { SIGINT, SIGTERM };
    for (int i = 0; i < 2; i++) {
        struct sigaction old;
        /* a signal ignored from the start (nohup, a background job of a
         * non-interactive shell) stays ignored */
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
            continue;
        if (sigaction(sigs[i], &sa, NULL) != 0)
            return -errno;
    }
    return 0;
}

int cli_interrupted(void)
{
    return g_sig;
}

int cli_interrupt_status(void)
{
    return g_sig ? 128 + g_sig : 0;
}

/* -------------------------------------------------------------- progress */

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void cli_progress_start(CliProgress *p, int64_t total, int force)
{
    memset(p, 0, sizeof(*p)); /* p may be uninitialised */
    p->f = stderr;
    p->tty = isatty(STDERR_FILENO);
    p->enabled = !cli_quiet && (p->tty || force);
    p->total = total > 0 ? total : 0;
    p->t0 = cli_now();
    p->t_last = -1e30;
}

void cli_progress_update(CliProgress *p, int64_t done, const char *extra_fmt, ...)
{
    if (!p->enabled)
        return;
    double t = p->clock ? p->clock() : cli_now();
    if (t - p->t_last < (p->tty ? 0.25 : 1.0))
        return;
    p->t_last = t;
    char line[512];
    size_t k = 0;
    int w;
    if (p->total > 0)
        w = snprintf(line, sizeof(line), "frame %lld/%lld", (long long)done, (long long)p->total);
    else
        w = snprintf(line, sizeof(line), "frame %lld", (long long)done);
    k = w > 0 ? (size_t)w : 0;
    double el = t - p->t0;
    if (el > 0 && done > 0 && k < sizeof(line)) {
        double fps = (double)done / el;
        w = snprintf(line + k, sizeof(line) - k, "  %.1f fps", fps);
        k += w > 0 ? (size_t)w : 0;
        if (p->total > 0 && done <= p->total && k < sizeof(line)) {
            double eta = (double)(p->total - done) / fps;
            if (eta < 120)
                w = snprintf(line + k, sizeof(line) - k, "  ETA %.0f s", eta);
            else if (eta < 7200)
                w = snprintf(line + k, sizeof(line) - k, "  ETA %.0f min", eta / 60);
            else
                w = snprintf(line + k, sizeof(line) - k, "  ETA %.1f h", eta / 3600);
            k += w > 0 ? (size_t)w : 0;
        }
    }
    if (extra_fmt && k + 2 < sizeof(line)) {
        line[k++] = ' ';
        line[k++] = ' ';
        va_list ap;
        va_start(ap, extra_fmt);
        vsnprintf(line + k, sizeof(line) - k, extra_fmt, ap);
        va_end(ap);
    }
    if (p->tty)
        fprintf(p->f, "\r\033[K%s", line);
    else
        fprintf(p->f, "%s: %s\n", g_tool, line);
    fflush(p->f);
    p->shown = p->tty;
    g_progress = p;
}

void cli_progress_end(CliProgress *p)
{
    if (p->enabled && p->shown && p->tty) {
        fputs("\r\033[K", p->f);
        fflush(p->f);
    }
    p->shown = 0;
    if (g_progress == p)
        g_progress = NULL;
}

/* ------------------------------------------------------------------ JSON */

/* Length of the valid UTF-8 sequence at s, or 0. */
static size_t utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    size_t n;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, min = 0x10000;
    else
        return 0;
    unsigned cp = c & (0x3f >> (n - 1));
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

void cli_json_escape(FILE *f, const char *str)
{
    const unsigned char *s = (const unsigned char *)(str ? str : "");
    fputc('"', f);
    while (*s) {
        unsigned c = *s;
        switch (c) {
        case '"': fputs("\\\"", f); s++; continue;
        case '\\': fputs("\\\\", f); s++; continue;
        case '\b': fputs("\\b", f); s++; continue;
        case '\f': fputs("\\f", f); s++; continue;
        case '\n': fputs("\\n", f); s++; continue;
        case '\r': fputs("\\r", f); s++; continue;
        case '\t': fputs("\\t", f); s++; continue;
        default: break;
        }
        if (c < 0x20 || c == 0x7f) {
            fprintf(f, "\\u%04x", c);
            s++;
            continue;
        }
        size_t n = utf8_len(s);
        if (!n) {
            fputs("\\ufffd", f);
            s++;
            continue;
        }
        fwrite(s, 1, n, f);
        s += n;
    }
    fputc('"', f);
}

void cli_json_init(CliJson *j, FILE *f, int pretty)
{
    memset(j, 0, sizeof(*j));
    j->f = f;
    j->pretty = pretty;
}

/* Before a member or element of the current level: a separator, and a new
 * line when the level is one of the first `pretty`. */
static void separate(CliJson *j)
{
    int *count = &j->count[j->depth - 1];
    if (*count > 0)
        fputc(',', j->f);
    if (j->depth <= j->pretty) {
        fputc('\n', j->f);
        for (int i = 0; i < j->depth; i++)
            fputs("  ", j->f);
    } else if (*count > 0) {
        fputc(' ', j->f);
    }
    (*count)++;
}

/* Separator and indentation before a value. */
static void before_value(CliJson *j)
{
    if (j->after_key) {
        j->after_key = 0;
        return;
    }
    if (j->depth == 0) {
        if (j->top++ > 0)
            j->error = 1; /* two documents */
        return;
    }
    if (j->type[j->depth - 1] == '{')
        j->error = 1; /* a member without a key */
    separate(j);
}

static void open_nest(CliJson *j, char c)
{
    before_value(j);
    fputc(c, j->f);
    if (j->depth >= CLI_JSON_DEPTH) {
        j->error = 1;
        return;
    }
    j->type[j->depth] = c;
    j->count[j->depth++] = 0;
}

static void close_nest(CliJson *j, char c)
{
    if (j->depth <= 0 || j->after_key || j->type[j->depth - 1] != (c == '}' ? '{' : '[')) {
        j->error = 1;
        return;
    }
    int had = j->count[j->depth - 1], inner = j->depth;
    j->depth--;
    if (had && inner <= j->pretty) {
        fputc('\n', j->f);
        for (int i = 0; i < j->depth; i++)
            fputs("  ", j->f);
    }
    fputc(c, j->f);
}

void cli_json_object_begin(CliJson *j) { open_nest(j, '{'); }
void cli_json_object_end(CliJson *j) { close_nest(j, '}'); }
void cli_json_array_begin(CliJson *j) { open_nest(j, '['); }
void cli_json_array_end(CliJson *j) { close_nest(j, ']'); }

void cli_json_key(CliJson *j, const char *key)
{
    if (j->depth <= 0 || j->after_key || j->type[j->depth - 1] != '{') {
        j->error = 1;
        return;
    }
    separate(j);
    cli_json_escape(j->f, key);
    fputs(": ", j->f);
    j->after_key = 1;
}

void cli_json_string(CliJson *j, const char *s)
{
    before_value(j);
    cli_json_escape(j->f, s);
}

void cli_json_int(CliJson *j, int64_t v)
{
    before_value(j);
    fprintf(j->f, "%lld", (long long)v);
}

void cli_json_uint(CliJson *j, uint64_t v)
{
    before_value(j);
    fprintf(j->f, "%llu", (unsigned long long)v);
}

void cli_json_double(CliJson *j, double v, const char *fmt)
{
    before_value(j);
    if (!isfinite(v))
        fputs("null", j->f);
    else
        fprintf(j->f, fmt ? fmt : "%.17g", v);
}

void cli_json_bool(CliJson *j, int v)
{
    before_value(j);
    fputs(v ? "true" : "false", j->f);
}

void cli_json_null(CliJson *j)
{
    before_value(j);
    fputs("null", j->f);
}

int cli_json_finish(CliJson *j)
{
    if (j->depth != 0 || j->after_key)
        j->error = 1;
    fputc('\n', j->f);
    return j->error ? -EINVAL : 0;
}
