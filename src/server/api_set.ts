/** The set of APIs a gateway serves, built by each reload and swapped as one reference. */
import type { ApiHandle } from "../chain/compile_api.ts";
import type { Router } from "./router.ts";

/** The APIs being served, swapped as one reference on reload. */
export interface ApiSet {
  readonly router: Router<ApiHandle>;
  readonly byId: ReadonlyMap<string, ApiHandle>;
}
