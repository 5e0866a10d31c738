/* Shared by the admission module's own files. */
#pragma once

#include "admission/admission.h"
#include "util/macro.h"

/* Sets out to a refusal with code and the formatted message; returns -EINVAL. */
int admission_reject(AdmissionOutcome *out, int code, const char *fmt, ...) _printf_(3, 4);
