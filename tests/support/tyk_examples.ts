/**
 * Tyk's documented JS plugin examples, verbatim, for the tests that run them through the gateway and through
 * the plugin test runner.
 */

/** The sample plugin; it calls `console.log`, which Tyk lacks (see docs/differences.md). */
export const SAMPLE_MIDDLEWARE = `/* --- sampleMiddleware.js --- */

// Create your middleware object
var sampleMiddleware = new TykJS.TykMiddleware.NewMiddleware({});

// Initialise it with your functionality by passing a closure that accepts two objects
// into the NewProcessRequest() function:
sampleMiddleware.NewProcessRequest(function(request, session, spec) {

  console.log("This middleware does nothing, but will print this to your terminal.")

  // You MUST return both the request and session metadata
  return sampleMiddleware.ReturnData(request, session.meta_data);
});
`;

/** The same sample as the scripting guide writes it, with `log()`. */
export const SCRIPTING_GUIDE = `/* --- sampleMiddleware.js --- */

// Create new middleware object
var sampleMiddleware = new TykJS.TykMiddleware.NewMiddleware({});

// Initialise the object with your functionality by passing a closure that accepts
// two objects into the NewProcessRequest() function:
sampleMiddleware.NewProcessRequest(function(request, session, config) {
    log("This middleware does nothing, but will print this to your terminal.")

    // You MUST return both the request and session metadata
    return sampleMiddleware.ReturnData(request, session.meta_data);
});
`;

/** The ReturnOverrides example with Go's field names. */
export const RETURN_OVERRIDES = `var testJSVMData = new TykJS.TykMiddleware.NewMiddleware({});

testJSVMData.NewProcessRequest(function(request, session, config) {
	request.ReturnOverrides.ResponseError = "Foobarbaz"
  request.ReturnOverrides.ResponseBody = "Foobar"
	request.ReturnOverrides.ResponseCode = 200
	request.ReturnOverrides.ResponseHeaders = {
		"X-Foo": "Bar",
		"X-Baz": "Qux"
	}
	return testJSVMData.ReturnData(request, {});
});
`;

/** The ReturnOverrides example with snake_case keys (see docs/differences.md); `someCondition` is left to the reader. */
export const SNAKE_CASE_OVERRIDES = `var testJSVMData = new TykJS.TykMiddleware.NewMiddleware({});

testJSVMData.NewProcessRequest(function(request, session, config) {
  // Logic to determine if the request should be overridden
  if (someCondition) {
      request.ReturnOverrides.response_code = 403;
      request.ReturnOverrides.response_body = "Access Denied";
      request.ReturnOverrides.headers = {"X-Error": "the-condition"};
      // This stops the request from proceeding to the upstream
  }
	return testJSVMData.ReturnData(request, session.meta_data);
});
`;

/** What the snake_case example leaves out: its condition, defined and true. */
export const SOME_CONDITION = "var someCondition = true;\n";

/** The config_data example. */
export const CONFIG_DATA = `var testJSVMData = new TykJS.TykMiddleware.NewMiddleware({});
testJSVMData.NewProcessRequest(function(request, session, spec) {
  request.SetHeaders["data-foo"] = spec.config_data.foo;
  return testJSVMData.ReturnData(request, {});
});
`;
