/* UBSan's runtime for the kernel: the handlers gcc's -fsanitize=undefined
 * instrumentation calls (the data layouts are the compiler's ABI, shared
 * by gcc and clang: ubsan_handlers.h in compiler-rt). Each turns its check
 * into one summary line, "<check> at <file>:<line>: <what>", reported
 * through san_report: the running case fails, the run goes on. The
 * recoverable checks return and the code runs on as it would have; the one
 * that cannot (reaching __builtin_unreachable) aborts the case. */
#include <stdio.h>
#include "san.h"
#include "../../harness/harness.h"
#include "../printk.h"

struct source_location {
    const char *file;
    uint32_t line;
    uint32_t column;
};

/* kind: 0 integer (info: log2 of the width << 1, bit 0 signed), 1 float. */
struct type_descriptor {
    uint16_t kind;
    uint16_t info;
    char name[];
};
#define TYPE_KIND_INTEGER 0
#define TYPE_INFO_SIGNED  1u

struct type_mismatch_data_v1 {
    struct source_location loc;
    const struct type_descriptor *type;
    unsigned char log_alignment;
    unsigned char type_check_kind;
};

struct overflow_data {
    struct source_location loc;
    const struct type_descriptor *type;
};

struct shift_out_of_bounds_data {
    struct source_location loc;
    const struct type_descriptor *lhs_type;
    const struct type_descriptor *rhs_type;
};

struct out_of_bounds_data {
    struct source_location loc;
    const struct type_descriptor *array_type;
    const struct type_descriptor *index_type;
};

struct unreachable_data {
    struct source_location loc;
};

struct invalid_value_data {
    struct source_location loc;
    const struct type_descriptor *type;
};

struct nonnull_arg_data {
    struct source_location loc;
    struct source_location attr_loc;
    int arg_index;
};

struct nonnull_return_data {
    struct source_location attr_loc;
};

struct vla_bound_data {
    struct source_location loc;
    const struct type_descriptor *type;
};

struct invalid_builtin_data {
    struct source_location loc;
    unsigned char kind;
};

/* How type_mismatch's access was made (compiler-rt's TypeCheckKind). */
static const char *const access_kinds[] = {
    "load of", "store to", "reference binding to", "member access within", "member call on",
    "constructor call on", "downcast of", "downcast of", "upcast of", "cast to virtual base of",
    "_Nonnull binding to", "dynamic operation on",
};

#define WHAT_MAX 112

static unsigned type_bits(const struct type_descriptor *t) { return 1u << (t->info >> 1); }
static int type_signed(const struct type_descriptor *t) { return t->info & TYPE_INFO_SIGNED; }

/* An integer operand as the instrumentation passes it: inline when it
 * fits a pointer, else a pointer to it (128-bit types). */
static void format_value(const struct type_descriptor *t, uintptr_t v, char *buf, size_t size)
{
    if (t->kind != TYPE_KIND_INTEGER) {
        snprintf(buf, size, "(a value of type %s)", t->name);
    } else if (type_bits(t) > 64) {
        snprintf(buf, size, "(a %u-bit value)", type_bits(t));
    } else if (type_signed(t)) {
        /* sign-extend from the type's width */
        unsigned shift = 64 - type_bits(t);
        snprintf(buf, size, "%ld", (int64_t)((uint64_t)v << shift) >> shift);
    } else {
        snprintf(buf, size, "%lu", (uint64_t)v);
    }
}

/* Not inlined, so its caller is the handler the instrumented code called:
 * the backtrace starts from the handler's frame, at the offending line. */
static __attribute__((noinline)) void report(const char *check, const struct source_location *loc,
                                             const char *what)
{
    char summary[SAN_TEXT_MAX];
    snprintf(summary, sizeof(summary), "%s at %s:%u: %s", check, loc->file, loc->line, what);
    const uint64_t *frame = __builtin_frame_address(0);
    san_report(SAN_UBSAN, summary, NULL, frame[0]);
}

void __ubsan_handle_type_mismatch_v1(const struct type_mismatch_data_v1 *d, uintptr_t ptr);
void __ubsan_handle_type_mismatch_v1(const struct type_mismatch_data_v1 *d, uintptr_t ptr)
{
    char what[WHAT_MAX];
    uintptr_t align = (uintptr_t)1 << d->log_alignment;
    const char *access = d->type_check_kind < sizeof(access_kinds) / sizeof(access_kinds[0])
                             ? access_kinds[d->type_check_kind] : "access to";
    if (!ptr) {
        snprintf(what, sizeof(what), "%s a null pointer of type %s", access, d->type->name);
        report("null-pointer", &d->loc, what);
    } else if (ptr & (align - 1)) {
        snprintf(what, sizeof(what), "%s misaligned address 0x%lx for type %s, which needs %lu-byte alignment",
                 access, (uint64_t)ptr, d->type->name, (uint64_t)align);
        report("misaligned-access", &d->loc, what);
    } else {
        snprintf(what, sizeof(what), "%s address 0x%lx with too little space for an object of type %s", access,
                 (uint64_t)ptr, d->type->name);
        report("object-size", &d->loc, what);
    }
}

static void overflow(const struct overflow_data *d, uintptr_t lhs, uintptr_t rhs, char op)
{
    char a[32], b[32], what[WHAT_MAX];
    format_value(d->type, lhs, a, sizeof(a));
    format_value(d->type, rhs, b, sizeof(b));
    snprintf(what, sizeof(what), "%s %c %s cannot be represented in type %s", a, op, b, d->type->name);
    report(type_signed(d->type) ? "signed-integer-overflow" : "unsigned-integer-overflow", &d->loc, what);
}

void __ubsan_handle_add_overflow(const struct overflow_data *d, uintptr_t lhs, uintptr_t rhs);
void __ubsan_handle_add_overflow(const struct overflow_data *d, uintptr_t lhs, uintptr_t rhs)
{
    overflow(d, lhs, rhs, '+');
}

void __ubsan_handle_sub_overflow(const struct overflow_data *d, uintptr_t lhs, uintptr_t rhs);
void __ubsan_handle_sub_overflow(const struct overflow_data *d, uintptr_t lhs, uintptr_t rhs)
{
    overflow(d, lhs, rhs, '-');
}

void __ubsan_handle_mul_overflow(const struct overflow_data *d, uintptr_t lhs, uintptr_t rhs);
void __ubsan_handle_mul_overflow(const struct overflow_data *d, uintptr_t lhs, uintptr_t rhs)
{
    overflow(d, lhs, rhs, '*');
}

void __ubsan_handle_negate_overflow(const struct overflow_data *d, uintptr_t old);
void __ubsan_handle_negate_overflow(const struct overflow_data *d, uintptr_t old)
{
    char a[32], what[WHAT_MAX];
    format_value(d->type, old, a, sizeof(a));
    snprintf(what, sizeof(what), "negation of %s cannot be represented in type %s", a, d->type->name);
    report("signed-integer-overflow", &d->loc, what);
}

void __ubsan_handle_divrem_overflow(const struct overflow_data *d, uintptr_t lhs, uintptr_t rhs);
void __ubsan_handle_divrem_overflow(const struct overflow_data *d, uintptr_t lhs, uintptr_t rhs)
{
    char a[32], b[32], what[WHAT_MAX];
    format_value(d->type, lhs, a, sizeof(a));
    format_value(d->type, rhs, b, sizeof(b));
    if (d->type->kind == TYPE_KIND_INTEGER && !rhs) {
        snprintf(what, sizeof(what), "%s divided by zero", a);
        report("integer-divide-by-zero", &d->loc, what);
    } else {
        snprintf(what, sizeof(what), "%s / %s cannot be represented in type %s", a, b, d->type->name);
        report("signed-integer-overflow", &d->loc, what);
    }
}

void __ubsan_handle_shift_out_of_bounds(const struct shift_out_of_bounds_data *d, uintptr_t lhs, uintptr_t rhs);
void __ubsan_handle_shift_out_of_bounds(const struct shift_out_of_bounds_data *d, uintptr_t lhs, uintptr_t rhs)
{
    char a[32], b[32], what[WHAT_MAX];
    format_value(d->lhs_type, lhs, a, sizeof(a));
    format_value(d->rhs_type, rhs, b, sizeof(b));
    int64_t count = type_signed(d->rhs_type) ? (int64_t)rhs : 0;
    if (count < 0)
        snprintf(what, sizeof(what), "shift exponent %s is negative", b);
    else if ((uint64_t)rhs >= type_bits(d->lhs_type))
        snprintf(what, sizeof(what), "shift exponent %s is too large for %u-bit type %s", b,
                 type_bits(d->lhs_type), d->lhs_type->name);
    else if (type_signed(d->lhs_type) && (int64_t)lhs < 0)
        snprintf(what, sizeof(what), "left shift of negative value %s", a);
    else
        snprintf(what, sizeof(what), "left shift of %s by %s places cannot be represented in type %s", a, b,
                 d->lhs_type->name);
    report("shift-out-of-bounds", &d->loc, what);
}

void __ubsan_handle_out_of_bounds(const struct out_of_bounds_data *d, uintptr_t index);
void __ubsan_handle_out_of_bounds(const struct out_of_bounds_data *d, uintptr_t index)
{
    char i[32], what[WHAT_MAX];
    format_value(d->index_type, index, i, sizeof(i));
    snprintf(what, sizeof(what), "index %s is out of range for type %s", i, d->array_type->name);
    report("array-index-out-of-bounds", &d->loc, what);
}

void __ubsan_handle_load_invalid_value(const struct invalid_value_data *d, uintptr_t val);
void __ubsan_handle_load_invalid_value(const struct invalid_value_data *d, uintptr_t val)
{
    char v[32], what[WHAT_MAX];
    format_value(d->type, val, v, sizeof(v));
    snprintf(what, sizeof(what), "load of value %s, which is not a valid value for type %s", v, d->type->name);
    report("invalid-load", &d->loc, what);
}

void __ubsan_handle_nonnull_arg(const struct nonnull_arg_data *d);
void __ubsan_handle_nonnull_arg(const struct nonnull_arg_data *d)
{
    char what[WHAT_MAX];
    snprintf(what, sizeof(what), "null pointer passed as argument %d, which is declared never null", d->arg_index);
    report("nonnull-attribute", &d->loc, what);
}

void __ubsan_handle_nonnull_return_v1(const struct nonnull_return_data *d, const struct source_location *loc);
void __ubsan_handle_nonnull_return_v1(const struct nonnull_return_data *d, const struct source_location *loc)
{
    report("returns-nonnull-attribute", loc, "null pointer returned from a function declared never to return null");
}

void __ubsan_handle_vla_bound_not_positive(const struct vla_bound_data *d, uintptr_t bound);
void __ubsan_handle_vla_bound_not_positive(const struct vla_bound_data *d, uintptr_t bound)
{
    char b[32], what[WHAT_MAX];
    format_value(d->type, bound, b, sizeof(b));
    snprintf(what, sizeof(what), "variable length array bound evaluates to non-positive value %s", b);
    report("vla-bound", &d->loc, what);
}

void __ubsan_handle_invalid_builtin(const struct invalid_builtin_data *d);
void __ubsan_handle_invalid_builtin(const struct invalid_builtin_data *d)
{
    report("invalid-builtin-use", &d->loc, "passing zero to ctz() or clz(), which is not a valid argument");
}

/* The one that cannot go on: the code after it is whatever the compiler
 * left there. (-fsanitize=return, the other such check, is C++ only.) */
static _Noreturn void fatal(const char *check, const struct source_location *loc, const char *what)
{
    report(check, loc, what);
    harness_abort_running();
    panic("ubsan: %s at %s:%u outside any test case", check, loc->file, loc->line);
}

void __ubsan_handle_builtin_unreachable(const struct unreachable_data *d);
void __ubsan_handle_builtin_unreachable(const struct unreachable_data *d)
{
    fatal("unreachable", &d->loc, "execution reached an unreachable program point");
}

