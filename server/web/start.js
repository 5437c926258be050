// The member's landing page of the emailed link. The token is read from the address
// once and removed from it, so it is neither kept in the history nor sent as a referrer.
(function () {
  var params = new URLSearchParams(location.search);
  var token = params.get("token") || "";
  var shootID = location.pathname.split("/")[3] || "";
  history.replaceState(null, "", location.pathname);

  var button = document.getElementById("start");
  var status = document.getElementById("status");
  var fresh = document.getElementById("fresh");

  function show(text, isError) {
    status.textContent = text;
    status.className = isError ? "error" : "";
  }

  button.addEventListener("click", function () {
    button.disabled = true;
    fetch("/api/v1/member/shoots/" + encodeURIComponent(shootID) + "/start", {
      method: "POST",
      headers: { Authorization: "Bearer " + token },
    }).then(function (resp) {
      return resp.json().then(function (body) {
        if (resp.ok) {
          show("You're all set: your photo shoot has started. Upload your photos to continue.", false);
          return;
        }
        button.disabled = false;
        show(body.detail || "Something went wrong. Please try again.", true);
        if (body.code === "invalid_token" || body.code === "token_expired") {
          fresh.hidden = false;
        }
      });
    }).catch(function () {
      button.disabled = false;
      show("The network is unavailable. Please try again.", true);
    });
  });

  fresh.addEventListener("submit", function (ev) {
    ev.preventDefault();
    fetch("/api/v1/member/link", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email: document.getElementById("email").value }),
    }).then(function (resp) {
      return resp.json().then(function (body) {
        show(resp.ok ? body.message : body.detail || "Please try again later.", !resp.ok);
      });
    });
  });
})();
