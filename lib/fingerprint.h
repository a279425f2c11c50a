/* SPDX-License-Identifier: MIT */
/* Fleet mode: a hash of the configuration that decides what is alerted, published by
 * each replica so that replicas of different configurations are warned about
 * (FLEET.md, Observability). Secrets and target URLs are not in it. */
#ifndef AL_FINGERPRINT_H
#define AL_FINGERPRINT_H

#include "config.h"

/* out: 16 hex digits and a NUL ("0000000000000000" when out of memory). */
void al_config_fingerprint(const alert_config *c, char out[17]);

#endif
