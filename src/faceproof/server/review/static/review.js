// faceproof review desk: keyboard shortcuts only; every action is a plain form or link.
// Queue: J/K (or arrows) move, Enter opens. Case: A approve, R reject, S new selfie, N note.
(function () {
  "use strict";
  function typing(e) {
    var el = e.target;
    return el && (el.tagName === "TEXTAREA" || el.tagName === "INPUT" || el.isContentEditable);
  }
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (typing(e)) { if (e.key === "Escape") e.target.blur(); return; }
    var key = e.key.toLowerCase();
    var form = document.getElementById("decide");
    if (form) {
      if (key === "n") { e.preventDefault(); document.getElementById("note").focus(); return; }
      var button = form.querySelector('button[data-key="' + key + '"]');
      if (button) { e.preventDefault(); button.click(); }
      return;
    }
    var rows = Array.prototype.slice.call(document.querySelectorAll("tr.row"));
    if (!rows.length) return;
    var at = rows.findIndex(function (r) { return r.classList.contains("sel"); });
    if (key === "j" || e.key === "ArrowDown") at = Math.min(rows.length - 1, at + 1);
    else if (key === "k" || e.key === "ArrowUp") at = Math.max(0, at - 1);
    else if (e.key === "Enter" && at >= 0) { window.location.href = rows[at].dataset.href; return; }
    else return;
    e.preventDefault();
    rows.forEach(function (r) { r.classList.remove("sel"); });
    rows[at].classList.add("sel");
    rows[at].scrollIntoView({ block: "nearest" });
  });
  document.addEventListener("click", function (e) {
    var row = e.target.closest && e.target.closest("tr.row");
    if (row && !e.target.closest("a")) window.location.href = row.dataset.href;
  });
})();
