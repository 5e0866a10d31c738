/* Numbers for people: sizes in powers of 1024 with one decimal ("1.5 GiB"). */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Writes b as "512 B", "1.5 KiB" ... "3.0 TiB" into buf; returns buf. */
const char *format_bytes_iec(uint64_t b, char *buf, size_t size);
