// A post hook with require_session: counts visits in the key's meta_data, which is written back, and answers
// with the count itself, so the example needs no upstream.
var countVisits = new TykJS.TykMiddleware.NewMiddleware({});

countVisits.NewProcessRequest(function (request, session, config) {
  var meta = session.meta_data || {};
  meta.visits = String(parseInt(meta.visits || "0", 10) + 1);
  request.ReturnOverrides.ResponseCode = 200;
  request.ReturnOverrides.ResponseBody = JSON.stringify({ visits: meta.visits });
  request.ReturnOverrides.ResponseHeaders = { "Content-Type": "application/json" };
  return countVisits.ReturnData(request, meta);
});
