import assert from "node:assert/strict";
import { captureLog } from "../capture_log.ts";
import { createLogHandler } from "./log_handler.ts";

Deno.test("createLogHandler() writes <prefix>:<Event>, with key, origin and path for key failures", () => {
  const log = captureLog();
  const handler = createLogHandler({ prefix: "tyk-events" }, log)!;
  handler.handle({
    Type: "QuotaExceeded",
    Meta: {
      Message: "Key Quota Limit Exceeded",
      OriginatingRequest: "",
      Path: "/q/x",
      Origin: "10.0.0.1",
      Key: "k1",
    },
    TimeStamp: "",
  });
  handler.handle({
    Type: "TokenCreated",
    Meta: { Message: "Key generated.", Org: "o", Key: "k2" },
    TimeStamp: "",
  });
  assert.deepEqual(log.lines.map((l) => `${l.level} ${l.msg}`), [
    "warn tyk-events:QuotaExceeded:k1:10.0.0.1:/q/x",
    "warn tyk-events:TokenCreated",
  ]);
});

Deno.test("createLogHandler() is null when disabled and refuses a prefix that is not a string", () => {
  assert.equal(createLogHandler({ prefix: "x", disabled: true }, captureLog()), null);
  assert.throws(() => createLogHandler({ prefix: 3 }, captureLog()), /handler_meta.prefix must be a string/);
});
