/**
 * The event handler kinds Portcullis knows, by Tyk's `handler_name`. A kind is a factory; adding one (the JS
 * `eh_dynamic_handler`, say) is adding an entry here.
 */
import { logger } from "../log.ts";
import type { HandlerFactory } from "./bus.ts";
import { createLogHandler } from "./log_handler.ts";
import { createWebhookHandler, type WebhookContext } from "./webhook_handler.ts";

/** The log `eh_log_handler` writes to. */
const EVENT_LOG = logger("events");

/** What every handler factory may use. */
export type HandlerContext = WebhookContext;

/** Factories by `handler_name`. */
export const HANDLER_FACTORIES: ReadonlyMap<string, HandlerFactory<HandlerContext>> = new Map<
  string,
  HandlerFactory<HandlerContext>
>([
  ["eh_log_handler", (meta) => createLogHandler(meta, EVENT_LOG)],
  ["eh_web_hook_handler", createWebhookHandler],
]);
