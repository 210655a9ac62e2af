// smppd console: the one script. It refreshes fragments marked data-refresh (the carriers
// table) in place, every data-every milliseconds, without reloading the page. The page
// works without it (reload by hand).
"use strict";
document.querySelectorAll("[data-refresh]").forEach(function (el) {
  var url = el.getAttribute("data-refresh");
  var every = parseInt(el.getAttribute("data-every"), 10) || 2000;
  function tick() {
    fetch(url, { credentials: "same-origin", headers: { "X-Console-Fragment": "1" } })
      .then(function (r) {
        if (r.status === 401) { window.location.href = "/console/login"; return null; }
        return r.ok ? r.text() : null;
      })
      .then(function (html) { if (html !== null) { el.innerHTML = html; } })
      .catch(function () {})
      .finally(function () { setTimeout(tick, every); });
  }
  setTimeout(tick, every);
});
