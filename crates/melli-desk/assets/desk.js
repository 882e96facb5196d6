// The desk screen: one panel per card reader, rebuilt from the server's events.
//
// Every value from the card is set with textContent or as an attribute value, never as markup.
// A panel is rebuilt only when its state, its card (generation) or its message changes, so a
// fingerprint match result stays while the card stays; a panel that goes back to "empty"
// loses every node that held the holder's data.
'use strict';

(function () {
  // The server's cap on a live finger record (melli verify --finger reads at most as much).
  const FINGER_CAP = 64 * 1024;

  const main = document.getElementById('panels');
  const deskName = document.querySelector('.desk-name');
  const connection = document.querySelector('.connection');
  // Panel id → { key, section }.
  const shown = new Map();

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined && text !== null) {
      node.textContent = text;
    }
    return node;
  }

  // One "label: value" row of a definition list; the value carries the class.
  function field(list, label, className, value) {
    list.appendChild(el('dt', null, label));
    const dd = el('dd', className, value);
    list.appendChild(dd);
    return dd;
  }

  // A field whose value is Persian text: laid out right to left, in the Persian font.
  function persianField(list, label, className, value) {
    const dd = field(list, label, className, value);
    dd.setAttribute('dir', 'rtl');
    dd.setAttribute('lang', 'fa');
    return dd;
  }

  function clearSection(section) {
    // Photos lose their source first, so nothing of the card lingers in the image cache's
    // live references once the nodes are gone.
    section.querySelectorAll('img').forEach(function (img) {
      img.removeAttribute('src');
    });
    while (section.firstChild) {
      section.removeChild(section.firstChild);
    }
  }

  function bannerText(card) {
    if (card.verdict === 'genuine') {
      return 'GENUINE';
    }
    return 'NOT GENUINE: ' + card.failed.join(', ');
  }

  function buildDone(section, panel) {
    const card = panel.card;
    const banner = el('div', 'banner', bannerText(card));
    banner.setAttribute('data-verdict', card.verdict);
    section.appendChild(banner);

    const holder = el('div', 'holder');
    if (panel.photo) {
      const img = el('img', 'photo');
      img.alt = 'Photo on the card';
      img.src = panel.photo;
      holder.appendChild(img);
    } else {
      holder.appendChild(el('div', 'photo-error', card.photo_error || 'No photo'));
    }
    const fields = el('dl', 'fields');
    persianField(fields, 'Name', 'name-fa', card.name_fa);
    field(fields, 'Latin name', 'name-latin', card.name_latin);
    field(fields, 'National code', 'national-code', card.national_code);
    field(fields, 'Birth date', 'birth-date', card.birth_date);
    field(fields, 'Issued', 'issue-date', card.issue_date);
    field(fields, 'Expires', 'expiry-date', card.expiry_date);
    field(fields, 'Postal code', 'postal-code', card.postal_code);
    const address = field(fields, 'Address', 'address', card.address || '');
    if (card.address_rtl) {
      address.setAttribute('dir', 'rtl');
      address.setAttribute('lang', 'fa');
    }
    field(fields, 'Card serial', 'serial', card.serial);
    holder.appendChild(fields);
    section.appendChild(holder);

    const checks = el('ul', 'checks');
    card.checks.forEach(function (check) {
      const li = el('li', null, check.name + ' — ' + check.detail);
      li.setAttribute('data-check', check.name);
      li.setAttribute('data-result', check.result);
      checks.appendChild(li);
    });
    section.appendChild(checks);

    section.appendChild(buildFinger(panel));

    const actions = el('div', 'actions');
    const print = el('button', 'print', 'Print verification record');
    print.type = 'button';
    print.addEventListener('click', function () {
      document.querySelectorAll('.panel.printing').forEach(function (p) {
        p.classList.remove('printing');
      });
      section.classList.add('printing');
      document.body.classList.add('printing-one');
      window.print();
    });
    actions.appendChild(print);
    section.appendChild(actions);

    section.appendChild(buildRecord(panel));
  }

  function buildFinger(panel) {
    const finger = el('div', 'finger');
    const label = el('label', null, 'Live fingerprint record (ISO/IEC 19794-2): ');
    const input = el('input', 'finger-file');
    input.type = 'file';
    label.appendChild(input);
    finger.appendChild(label);
    const button = el('button', 'match', 'Match on card');
    button.type = 'button';
    finger.appendChild(button);
    const result = el('span', 'match-result');
    finger.appendChild(result);

    function show(kind, text, triesLeft) {
      result.setAttribute('data-result', kind);
      if (triesLeft === undefined || triesLeft === null) {
        result.removeAttribute('data-tries-left');
      } else {
        result.setAttribute('data-tries-left', String(triesLeft));
      }
      result.textContent = text;
    }

    button.addEventListener('click', function () {
      const file = input.files && input.files[0];
      if (!file) {
        show('error', 'Choose the live fingerprint record first.');
        return;
      }
      if (file.size > FINGER_CAP) {
        show('error', 'That file is too large for a fingerprint record.');
        input.value = '';
        return;
      }
      button.disabled = true;
      show('pending', 'Asking the card…');
      fetch('match/' + panel.id + '/' + panel.generation, {
        method: 'POST',
        body: file,
        headers: { 'Content-Type': 'application/octet-stream' },
        cache: 'no-store',
        credentials: 'same-origin',
      })
        .then(function (response) {
          return response.json();
        })
        .then(function (answer) {
          if (answer.result === 'match') {
            show('match', 'MATCH — the finger is the holder\'s.');
          } else if (answer.result === 'no-match') {
            show('no-match', 'NO MATCH — ' + answer.tries_left + ' tries left.', answer.tries_left);
          } else if (answer.result === 'blocked') {
            show('blocked', 'BLOCKED — no tries left: the holder unblocks the finger with the PUK.', 0);
          } else {
            show('error', answer.error || 'The card gave no answer.');
          }
        })
        .catch(function () {
          show('error', 'The desk did not answer.');
        })
        .finally(function () {
          // The record is not kept in the page once it was sent.
          input.value = '';
          button.disabled = false;
        });
    });
    return finger;
  }

  function buildRecord(panel) {
    const card = panel.card;
    const record = el('div', 'record');
    record.appendChild(el('h2', null, 'Verification record'));
    const list = el('dl', 'fields');
    field(list, 'Date and time', 'record-time', card.verified_at);
    field(list, 'Desk', 'record-desk', panel.desk);
    field(list, 'Reader', 'record-reader', panel.reader);
    persianField(list, 'Holder', 'record-name-fa', card.name_fa);
    field(list, 'Holder (Latin)', 'record-name-latin', card.name_latin);
    field(list, 'National code', 'record-national-code', card.national_code);
    field(list, 'Card serial', 'record-serial', card.serial);
    field(list, 'Verdict', 'record-verdict', bannerText(card));
    record.appendChild(list);
    return record;
  }

  function build(section, panel) {
    clearSection(section);
    section.classList.remove('printing');
    section.setAttribute('data-reader', panel.reader);
    section.setAttribute('data-state', panel.state);
    section.appendChild(el('h2', 'reader', panel.reader));
    if (panel.state === 'empty') {
      section.appendChild(el('p', 'message', 'Insert a card'));
    } else if (panel.state === 'reading') {
      section.appendChild(el('p', 'message', 'Reading the card…'));
    } else if (panel.state === 'error') {
      section.appendChild(el('p', 'message', panel.message || 'The card could not be read.'));
    } else if (panel.state === 'done' && panel.card) {
      buildDone(section, panel);
    }
  }

  function update(panels) {
    const seen = new Set();
    if (panels.length > 0) {
      deskName.textContent = panels[0].desk;
    }
    panels.forEach(function (panel, index) {
      seen.add(panel.id);
      const key = panel.state + ':' + panel.generation + ':' + (panel.message || '');
      let entry = shown.get(panel.id);
      if (!entry) {
        entry = { key: null, section: el('section', 'panel') };
        shown.set(panel.id, entry);
      }
      if (entry.key !== key) {
        build(entry.section, panel);
        entry.key = key;
      }
      // Keep the server's order of readers.
      if (main.children[index] !== entry.section) {
        main.insertBefore(entry.section, main.children[index] || null);
      }
    });
    shown.forEach(function (entry, id) {
      if (!seen.has(id)) {
        clearSection(entry.section);
        entry.section.remove();
        shown.delete(id);
      }
    });
  }

  function forgetAll() {
    shown.forEach(function (entry) {
      clearSection(entry.section);
      entry.section.remove();
    });
    shown.clear();
  }

  const events = new EventSource('events');
  events.onopen = function () {
    connection.setAttribute('data-connected', 'true');
    connection.textContent = 'connected';
  };
  events.onmessage = function (event) {
    let panels;
    try {
      panels = JSON.parse(event.data);
    } catch (e) {
      return;
    }
    if (Array.isArray(panels)) {
      update(panels);
    }
  };
  events.onerror = function () {
    // Without the desk, the page cannot tell whether a card is still in its reader: it shows
    // no holder data until the desk answers again (and sends every panel anew).
    connection.setAttribute('data-connected', 'false');
    connection.textContent = 'desk not answering — reconnecting…';
    forgetAll();
  };
})();
