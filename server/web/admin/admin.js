// The admin pages work without this script (Give retry then opens the confirmation as
// a page). With it, Give retry opens the same confirmation in a modal <dialog>: focus
// moves into it, Escape closes it, and focus returns to the Actions button. Opening it
// and sending a form say "Working…" (and aria-busy) until the answer comes.
(function () {
  'use strict';
  var dialog = document.getElementById('modal');
  var opener = null;

  function closeMenus(except) {
    document.querySelectorAll('details.actions[open]').forEach(function (d) {
      if (d !== except) { d.removeAttribute('open'); }
    });
  }

  // busyNote tells, above the page, about a change still running after its modal was
  // closed: the request goes on, and its answer replaces the page.
  var busyNote = document.createElement('p');
  busyNote.id = 'busy';
  busyNote.className = 'notice busy-note';
  busyNote.setAttribute('role', 'status');
  busyNote.hidden = true;
  document.body.appendChild(busyNote);

  var loading = null; // the Give retry link whose confirmation is on its way

  function setLoading(link, on) {
    var note = link.querySelector('.working');
    if (on) {
      link.setAttribute('aria-busy', 'true');
      if (!note) {
        note = document.createElement('span');
        note.className = 'working';
        note.textContent = ' Working\u2026';
        link.appendChild(note);
      }
    } else {
      link.removeAttribute('aria-busy');
      if (note) { note.remove(); }
    }
    loading = on ? link : null;
  }

  function openModal(link) {
    if (loading) { return; } // one confirmation at a time: a second click waits for the first
    var menu = link.closest('details');
    opener = menu ? menu.querySelector('summary') : link;
    setLoading(link, true);
    fetch(link.href, { credentials: 'same-origin', headers: { 'Accept': 'text/html' } })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        setLoading(link, false);
        var doc = new DOMParser().parseFromString(html, 'text/html');
        var part = doc.getElementById('retry-confirm') || doc.querySelector('[data-problem-code]');
        if (!part) { window.location.href = link.href; return; }
        dialog.replaceChildren(document.importNode(part, true));
        dialog.removeAttribute('aria-busy');
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
      .catch(function () { setLoading(link, false); window.location.href = link.href; });
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
      // Once the form is sent, Cancel can cancel nothing: it stays, disabled.
      if (close.getAttribute('aria-disabled') !== 'true') { dialog.close(); }
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
    // Closing the modal does not stop a change it sent: the note says it still runs.
    dialog.addEventListener('close', function () {
      var sent = dialog.querySelector('form[data-sent]');
      if (sent) {
        var label = sent.dataset.label || 'The change';
        busyNote.textContent = 'Working\u2026 ' + label + (sent.dataset.subject ? ' for ' + sent.dataset.subject : '') +
          ' is still running. This page updates when it is done.';
        busyNote.hidden = false;
      }
      if (opener) { opener.focus(); }
    });
  }

  // One submission per form: a second click or Enter does nothing, and the form says it
  // is working until its answer replaces the page. The server's Idempotency-Key makes a
  // second request harmless anyway, e.g. when this script is off.
  document.addEventListener('submit', function (ev) {
    var form = ev.target;
    if (form.getAttribute('method') !== 'post') { return; }
    if (form.dataset.sent) { ev.preventDefault(); return; }
    form.dataset.sent = '1';
    form.setAttribute('aria-busy', 'true');
    var button = ev.submitter || form.querySelector('button[type=submit]');
    if (button) {
      form.dataset.label = button.textContent.trim();
      button.setAttribute('aria-busy', 'true');
      // Disabled after the submit has gathered the form, so the request is unaffected.
      setTimeout(function () {
        button.disabled = true;
        button.textContent = 'Working\u2026';
      }, 0);
    }
    if (dialog && dialog.contains(form)) {
      dialog.setAttribute('aria-busy', 'true');
      dialog.querySelectorAll('[data-close]').forEach(function (c) { c.setAttribute('aria-disabled', 'true'); });
    }
  });

  // A page shown again from the back/forward cache gets its forms back as they were.
  window.addEventListener('pageshow', function (ev) {
    if (!ev.persisted) { return; }
    document.querySelectorAll('form[data-sent]').forEach(function (form) {
      delete form.dataset.sent;
      form.removeAttribute('aria-busy');
      var button = form.querySelector('button[aria-busy]');
      if (button) {
        button.disabled = false;
        button.removeAttribute('aria-busy');
        button.textContent = form.dataset.label;
      }
    });
    busyNote.hidden = true;
  });
}());

// A webhook signing secret is shown once, on the page that answers the form that made
// it. The address becomes the Webhooks page's own, so reloading asks for the list again
// instead of sending the form again; Copy puts the secret on the clipboard and says so.
(function () {
  'use strict';
  var once = document.querySelector('[data-secret-once]');
  if (once && window.history && typeof window.history.replaceState === 'function') {
    window.history.replaceState(null, '', once.getAttribute('data-secret-once'));
  }
  document.querySelectorAll('button[data-copy]').forEach(function (button) {
    var field = document.getElementById(button.getAttribute('data-copy'));
    var status = button.parentNode.querySelector('.copy-status');
    if (!field) { return; }
    button.hidden = false;
    button.addEventListener('click', function () {
      field.focus();
      field.select();
      var done = function () { if (status) { status.textContent = 'Copied.'; } };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done, function () {
          if (status) { status.textContent = 'Select the secret and copy it.'; }
        });
      } else if (document.execCommand && document.execCommand('copy')) {
        done();
      } else if (status) {
        status.textContent = 'Select the secret and copy it.';
      }
    });
  });
  var secret = document.getElementById('webhook-secret');
  if (secret) { secret.addEventListener('focus', function () { secret.select(); }); }
}());
