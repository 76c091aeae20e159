/*
 * jsonpath.h - for the files in src/engine only: a small JSONPath reader,
 * the subset that webhook stage configs use in practice (Jayway JsonPath
 * syntax, single-value paths only):
 *
 *   $                  the root
 *   .key  ['key']  ["key"]   an object member (quotes allow any key;
 *                      backslash escapes the next character)
 *   [3]  [-1]          an array element (negative counts from the end)
 *   status  data.items[0]    a path without the leading "$" is read as if
 *                      it had one
 *
 * Wildcards, deep scan (..), filters, slices and functions are not
 * supported: such a path is a syntax error, never a silent miss.
 */
#ifndef MZ_ENGINE_JSONPATH_H
#define MZ_ENGINE_JSONPATH_H

#include "core/core.h"

/* Returns the value at path inside root (borrowed; a JSON null found there
 * is returned as such, not as NULL). On failure returns NULL and sets err:
 * MZ_EINVAL for a malformed or unsupported path, MZ_ENOTFOUND when the path
 * is well-formed but leads nowhere in root. */
json_t *mz__jsonpath_get(const json_t *root, const char *path, mz_err *err);

#endif
