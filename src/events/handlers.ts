/**
 * The event handler kinds Portcullis knows, by Tyk's `handler_name`. A kind is a factory; adding one is
 * adding an entry here.
 */
import { logger } from "../log.ts";
import type { HandlerFactory } from "./bus.ts";
import { createJsEventHandler, type JsEventSettings } from "./js_handler.ts";
import { createLogHandler } from "./log_handler.ts";
import { createWebhookHandler, type WebhookContext } from "./webhook_handler.ts";

/** The log `eh_log_handler` writes to. */
const EVENT_LOG = logger("events");

/** What every handler factory may use; `jsEvents` only on an API's bus (tyk.conf's takes no JS handlers). */
export type HandlerContext = WebhookContext & { jsEvents?: JsEventSettings };

/** Factories by `handler_name`. */
export const HANDLER_FACTORIES: ReadonlyMap<string, HandlerFactory<HandlerContext>> = new Map<
  string,
  HandlerFactory<HandlerContext>
>([
  ["eh_log_handler", (meta) => createLogHandler(meta, EVENT_LOG)],
  ["eh_web_hook_handler", createWebhookHandler],
  ["eh_dynamic_handler", (meta, context) => createJsEventHandler(meta, context.jsEvents)],
]);
