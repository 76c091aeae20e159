/* err.c - the error record and its names. */
#include "core/core.h"

#include <stdio.h>
#include <string.h>

mz_code
mz_fail(mz_err *err, mz_code code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		err->code = code;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

void
mz_err_clear(mz_err *err)
{
	if (err) {
		err->code = MZ_OK;
		err->msg[0] = '\0';
	}
}

const char *
mz_code_name(mz_code code)
{
	switch (code) {
	case MZ_OK: return "OK";
	case MZ_EINVAL: return "Bad Request";
	case MZ_ENOTFOUND: return "Not Found";
	case MZ_ECONFLICT: return "Conflict";
	case MZ_EFORBIDDEN: return "Forbidden";
	case MZ_EBUSY: return "Service Unavailable";
	case MZ_EIO: return "Internal Server Error";
	case MZ_ENOMEM: return "Internal Server Error";
	case MZ_ETIMEOUT: return "Timeout";
	case MZ_EINTERNAL: return "Internal Server Error";
	case MZ_ENOSPACE: return "Service Unavailable";
	}
	return "Error";
}
