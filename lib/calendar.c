/* SPDX-License-Identifier: MIT */
/* The UTC calendar: days since 1970-01-01 <-> year, month, day (proleptic Gregorian;
 * H. Hinnant's civil algorithms), and the one place where UTC dates and times are
 * written as text. */
#include "calendar.h"

#include <stdio.h>
#include <string.h>

int32_t al_day_from_ms(int64_t ms)
{
    int64_t d = ms / 86400000;
    if (ms % 86400000 < 0)
        d--;
    return (int32_t)d;
}

int32_t al_day_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (unsigned)((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1);
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int32_t)(era * 146097 + (int)doe - 719468);
}

void al_civil_from_day(int32_t day, int *y, int *m, int *d)
{
    int z = day + 719468;
    int era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int yy = (int)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yy + (*m <= 2);
}

int al_days_in_month(int y, int m)
{
    static const int dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dim[(m - 1) % 12];
}

void al_utc_date(char out[11], int32_t day)
{
    int y, m, d;
    al_civil_from_day(day, &y, &m, &d);
    char tmp[48];
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02d", y, m, d);
    memcpy(out, tmp, 10);
    out[10] = '\0';
}

void al_utc_parts(int64_t ms, al_utc *t)
{
    int32_t day = al_day_from_ms(ms);
    int64_t in_day = ms - (int64_t)day * 86400000;
    al_civil_from_day(day, &t->year, &t->month, &t->day);
    t->hour = (int)(in_day / 3600000);
    t->minute = (int)(in_day / 60000 % 60);
    t->second = (int)(in_day / 1000 % 60);
    t->ms = (int)(in_day % 1000);
}

void al_utc_iso8601(char out[32], int64_t ms)
{
    al_utc t;
    al_utc_parts(ms, &t);
    char tmp[96];
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", t.year, t.month, t.day, t.hour,
             t.minute, t.second, t.ms);
    memcpy(out, tmp, 24);       /* the fields are in range: always 24 characters */
    out[24] = '\0';
}
