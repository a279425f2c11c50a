/* SPDX-License-Identifier: MIT */
/* Operations events (BEHAVIOUR.md section 1): DB errors, deployment cooldowns,
 * management events (new_model_added and the key/team/user types). Pure builders
 * of al_alert values plus the cooldown dedup table; worker-side, no clock reads. */
#ifndef AL_OPS_H
#define AL_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "alert.h"

/* The DB error text is cut to this many bytes (on a UTF-8 boundary, "…" marks
 * the cut) after scrubbing. */
#define AL_OPS_ERROR_MAX 4096
/* Each management value is cut to this many characters after scrubbing. */
#define AL_OPS_VALUE_MAX 1000

/* db_exceptions (High): "DB read/write call failed: <error>", the error repaired
 * to UTF-8, secrets scrubbed unless scrub == 0, cut to AL_OPS_ERROR_MAX bytes,
 * Slack-escaped in ->message. NULL on allocation failure (or NULL text). */
al_alert *al_ops_db_error(const char *error_text, int scrub, int64_t at_ms);

/* cooldown_deployment (Medium):
 *   Deployment cooled down: `<deployment>`
 *   Reason: `<reason>`            (scrubbed unless scrub == 0; "None" when NULL)
 *   Cooldown: `60s`
 * label deployment, subject "deployment <deployment>". NULL on allocation failure. */
al_alert *al_ops_cooldown(const char *deployment, const char *reason, int32_t cooldown_s,
                          int scrub, int64_t at_ms);

/* Once per deployment per cooldown: a bounded table of the cooldowns in force. */
typedef struct al_cooldowns al_cooldowns;

al_cooldowns *al_cooldowns_new(size_t max_entries);     /* 0: 10000 */
void al_cooldowns_free(al_cooldowns *t);
/* 1 when a cooldown of `deployment` starting at now should alert: none of its
 * earlier cooldowns is still in force (now < its start + its cooldown_s). The
 * new cooldown is then recorded. 0 when one is in force (no alert; nothing
 * changes). When the table is full of cooldowns in force, the one ending first
 * is forgotten; when memory runs out the answer is 1 (better a duplicate than a
 * lost alert). */
int al_cooldowns_check(al_cooldowns *t, const char *deployment, int32_t cooldown_s,
                       int64_t now_ms);
size_t al_cooldowns_count(const al_cooldowns *t);

/* 1 for new_model_added and the nine key/team/user types. */
int al_ops_is_management_type(int type);

/* A management event. actor_json and details_json must each be a JSON object or
 * NULL, else NULL with *err = ALERT_ERR_INVALID; an alert_type that is not a
 * management type: ALERT_ERR_INVALID too.
 * new_model_added (compat, without LiteLLM's usage snippet and cost-map block):
 *   "\n*🚅 New Model Added*\nModel Name: `<details.model_name>`\n"
 *   + "Base Model: `<details.base_model>`\n" when given
 * the others (compat): "`<Event Name>`\n*Action Done by:*\n" then one
 * "<key>: `<value>`\n" per actor item (no actor: LiteLLM's
 * created_by_user_id/created_by_user_role `Unknown`, created_by_key_alias `None`),
 * then "\n*Arguments passed:*\n" and one line per details item except
 * user_api_key_dict. Values: strings unquoted, other JSON compact; repaired,
 * scrubbed unless scrub == 0, cut to AL_OPS_VALUE_MAX characters; keys and
 * values Slack-escaped in ->message. Level from the type table. */
al_alert *al_ops_management(const char *alert_type, const char *actor_json,
                            const char *details_json, int scrub, int64_t at_ms, int *err);

#endif
