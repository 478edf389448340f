/** The gateway's version: `/hello` reports it and upstream requests without a User-Agent carry it. */
export const VERSION = "0.1.0";
