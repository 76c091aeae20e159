/*
 * stage_webhook.h - Spinnaker's `webhook` stage (Orca's orca-webhook):
 * one HTTP call (createWebhook), an optional wait, and optional polling of
 * a status URL (monitorWebhook) until a JSONPath in the response says the
 * far side is done.
 */
#ifndef MZ_ENGINE_STAGE_WEBHOOK_H
#define MZ_ENGINE_STAGE_WEBHOOK_H

#include "engine/engine.h"

/* Registers the tasks createWebhook, waitBeforeMonitorWebhook and
 * monitorWebhook and the stage type "webhook". Call before
 * mz_engine_start(); initialises the HTTP client if main() did not. */
void mz__register_webhook_stage(void);

/* The webhook stage's planning (createWebhook, then waitBeforeMonitorWebhook
 * and monitorWebhook when it waits for completion) and restart hook, for
 * the preconfigured webhook stages (stage_webhook_preconf.c). */
mz_code mz__webhook_plan(mz_plan *p, mz_err *err);
void mz__webhook_prepare_restart(json_t *stage);

#endif
