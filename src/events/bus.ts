/**
 * The event bus of an API (or of the gateway, for token events): built once per load from an
 * `event_handlers.events` block, it hands each raised event to that event's handlers asynchronously, so no
 * handler can slow or fail the request that raised it. Handlers are made by factories registered by
 * `handler_name` (see `handlers.ts`), so a new kind of handler is a new factory, not a new branch here.
 */
import type { Logger } from "../log.ts";
import { type EventMessage, type EventMeta, goTimeString } from "./event.ts";

/** Something that reacts to events; a failure it throws or rejects with is logged, never propagated. */
export interface EventHandler {
  handle(event: EventMessage): void | Promise<void>;
  /** Releases what the handler holds (a JS handler's sandbox) when its API is unloaded. */
  close?(): Promise<void>;
}

/** Makes a handler from its `handler_meta`; returns `null` for a disabled one, throws for a bad one. */
export type HandlerFactory<Context> = (
  meta: Record<string, unknown>,
  context: Context,
) => EventHandler | null;

/** One `event_handlers.events` entry. */
export interface HandlerConfig {
  handler_name: string;
  handler_meta: Record<string, unknown>;
}

/** Options of {@link createEventBus}. */
export interface EventBusOptions<Context> {
  /** Factories by `handler_name`. */
  factories: ReadonlyMap<string, HandlerFactory<Context>>;
  /** What factories get besides the meta (store, HTTP agents, paths). */
  context: Context;
  log: Logger;
  /** Names the bus in log lines, e.g. the API id. */
  owner: string;
  now?: () => number;
}

/** Raises events; a bus without handlers for an event does nothing for it. */
export interface EventBus {
  /** True when some handler listens for `name`: raise points skip building metadata otherwise. */
  wants(name: string): boolean;
  /** Hands the event to its handlers after the current task; returns at once. */
  fire(name: string, meta: EventMeta): void;
  /** Closes the handlers that hold something (JS handlers' sandboxes); idempotent. */
  close(): Promise<void>;
}

/** A bus with no handlers. */
export const NO_EVENTS: EventBus = { wants: () => false, fire: () => {}, close: () => Promise.resolve() };

/**
 * Builds a bus from `event_handlers.events`. Unknown handler names and handlers whose meta is invalid are
 * logged with the event and handler named, and left out; the other handlers still work.
 * @example
 * const bus = createEventBus(def.event_handlers.events, { factories: HANDLERS, context, log, owner: def.api_id });
 */
export function createEventBus<Context>(
  events: Record<string, HandlerConfig[]>,
  options: EventBusOptions<Context>,
): EventBus {
  const { log, owner } = options;
  const now = options.now ?? Date.now;
  const byName = new Map<string, EventHandler[]>();
  for (const [name, configs] of Object.entries(events)) {
    for (const [i, config] of configs.entries()) {
      const where = { owner, event: name, handler: `${config.handler_name} (${i})` };
      const factory = options.factories.get(config.handler_name);
      if (factory === undefined) {
        log.error(`Cannot create event handler: unknown handler_name "${config.handler_name}"`, where);
        continue;
      }
      try {
        const handler = factory(config.handler_meta ?? {}, options.context);
        if (handler === null) log.info("Skipping disabled event handler", where);
        else byName.set(name, [...byName.get(name) ?? [], handler]);
      } catch (err) {
        log.error(`Cannot create event handler: ${(err as Error).message}`, where);
      }
    }
  }
  if (byName.size === 0) return NO_EVENTS;

  const deliver = (handler: EventHandler, event: EventMessage) => {
    try {
      const out = handler.handle(event);
      if (out instanceof Promise) out.catch((err) => report(event, err));
    } catch (err) {
      report(event, err);
    }
  };
  const report = (event: EventMessage, err: unknown) =>
    log.error(`Event handler failed: ${(err as Error)?.message ?? err}`, { owner, event: event.Type });

  let closed: Promise<void> | null = null;
  return {
    wants: (name) => byName.has(name),
    close() {
      closed ??= Promise.all([...byName.values()].flat().map((handler) => handler.close?.())).then(() => {});
      return closed;
    },
    fire(name, meta) {
      const handlers = byName.get(name);
      if (handlers === undefined) return;
      const event: EventMessage = { Type: name, Meta: meta, TimeStamp: goTimeString(now()) };
      // A macrotask, not a microtask: the request that raised it finishes first.
      setTimeout(() => {
        for (const handler of handlers) deliver(handler, event);
      }, 0);
    },
  };
}
