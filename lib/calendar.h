/* SPDX-License-Identifier: MIT */
/* The UTC calendar (proleptic Gregorian) and UTC dates as text: the one place where
 * the library turns a time into a date. Pure: no clock, no allocation. */
#ifndef AL_CALENDAR_H
#define AL_CALENDAR_H

#include <stdint.h>

/* Days since 1970-01-01 (UTC) <-> year, month (1-12), day (1-31). */
int32_t al_day_from_ms(int64_t ms);
int32_t al_day_from_civil(int y, int m, int d);
void al_civil_from_day(int32_t day, int *y, int *m, int *d);
int al_days_in_month(int y, int m);

/* "YYYY-MM-DD" of a day. */
void al_utc_date(char out[11], int32_t day);

/* A time's parts in UTC. */
typedef struct al_utc {
    int year, month, day, hour, minute, second, ms;
} al_utc;
void al_utc_parts(int64_t ms, al_utc *t);
/* "YYYY-MM-DDTHH:MM:SS.mmmZ" of a time (ms since the epoch). */
void al_utc_iso8601(char out[32], int64_t ms);

#endif
