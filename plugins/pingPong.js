// A pre hook that answers /open/ping itself and tags every other request.
var pingPong = new TykJS.TykMiddleware.NewMiddleware({});

pingPong.NewProcessRequest(function (request, session, config) {
  if (request.URL.indexOf("/ping") !== -1) {
    request.ReturnOverrides.ResponseCode = 200;
    request.ReturnOverrides.ResponseBody = config.config_data.greeting;
    request.ReturnOverrides.ResponseHeaders = { "Content-Type": "text/plain" };
  }
  request.SetHeaders["X-Example"] = "portcullis";
  return pingPong.ReturnData(request, session.meta_data);
});
