// A post hook with require_session: counts visits in the key's meta_data, which is written back.
var countVisits = new TykJS.TykMiddleware.NewMiddleware({});

countVisits.NewProcessRequest(function (request, session, config) {
  var meta = session.meta_data || {};
  meta.visits = String(parseInt(meta.visits || "0", 10) + 1);
  request.SetHeaders["X-Visits"] = meta.visits;
  return countVisits.ReturnData(request, meta);
});
