// The admin pages work without this script (Give retry then opens the confirmation as
// a page). With it, Give retry opens the same confirmation in a modal <dialog>: focus
// moves into it, Escape closes it, and focus returns to the Actions button.
(function () {
  'use strict';
  var dialog = document.getElementById('modal');
  var opener = null;

  function closeMenus(except) {
    document.querySelectorAll('details.actions[open]').forEach(function (d) {
      if (d !== except) { d.removeAttribute('open'); }
    });
  }

  function openModal(link) {
    var menu = link.closest('details');
    opener = menu ? menu.querySelector('summary') : link;
    fetch(link.href, { credentials: 'same-origin', headers: { 'Accept': 'text/html' } })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, 'text/html');
        var part = doc.getElementById('retry-confirm') || doc.querySelector('[data-problem-code]');
        if (!part) { window.location.href = link.href; return; }
        dialog.replaceChildren(document.importNode(part, true));
        var title = dialog.querySelector('h1, h2');
        if (title) {
          if (!title.id) { title.id = 'modal-title'; }
          dialog.setAttribute('aria-labelledby', title.id);
        }
        closeMenus(null);
        dialog.showModal();
        var first = dialog.querySelector('[autofocus]') || dialog.querySelector('button, a[href], select, input');
        if (first) { first.focus(); }
      })
      .catch(function () { window.location.href = link.href; });
  }

  document.addEventListener('click', function (ev) {
    var link = ev.target.closest('a[data-modal]');
    if (link && dialog && typeof dialog.showModal === 'function') {
      ev.preventDefault();
      openModal(link);
      return;
    }
    var close = ev.target.closest('[data-close]');
    if (close && dialog && dialog.open && dialog.contains(close)) {
      ev.preventDefault();
      dialog.close();
      return;
    }
    closeMenus(ev.target.closest('details.actions'));
  });

  document.addEventListener('keydown', function (ev) {
    if (ev.key !== 'Escape' || (dialog && dialog.open)) { return; }
    var open = document.querySelector('details.actions[open]');
    if (open) {
      open.removeAttribute('open');
      open.querySelector('summary').focus();
    }
  });

  if (dialog) {
    dialog.addEventListener('close', function () {
      if (opener) { opener.focus(); }
    });
  }

  // One submission per form: a second click does nothing. The server's Idempotency-Key
  // makes a second request harmless anyway, e.g. when this script is off.
  document.addEventListener('submit', function (ev) {
    var form = ev.target;
    if (form.getAttribute('method') !== 'post') { return; }
    if (form.dataset.sent) { ev.preventDefault(); return; }
    form.dataset.sent = '1';
    var button = form.querySelector('button[type=submit]');
    if (button) {
      // Disabled after the submit has gathered the form, so the request is unaffected.
      setTimeout(function () { button.disabled = true; }, 0);
    }
  });
}());
