// A pre hook that answers every request to /open itself, so the example needs no upstream: /open/ping gets
// "pong" (config_data.greeting), anything else a JSON description of what the plugin saw.
var pingPong = new TykJS.TykMiddleware.NewMiddleware({});

pingPong.NewProcessRequest(function (request, session, config) {
  request.ReturnOverrides.ResponseCode = 200;
  if (request.URL.indexOf("/ping") !== -1) {
    request.ReturnOverrides.ResponseBody = config.config_data.greeting;
    request.ReturnOverrides.ResponseHeaders = { "Content-Type": "text/plain" };
  } else {
    request.ReturnOverrides.ResponseBody = JSON.stringify({
      message: "answered by plugins/pingPong.js",
      method: request.Method,
      url: request.URL,
    });
    request.ReturnOverrides.ResponseHeaders = { "Content-Type": "application/json" };
  }
  return pingPong.ReturnData(request, session.meta_data);
});
