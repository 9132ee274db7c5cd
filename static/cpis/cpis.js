// Starts the NHS.UK components and the session-timeout warning (WCAG 2.2.1 Timing Adjustable).
// The semicolon matters: Django's manifest storage rewrites only a terminated import to the
// hashed file name (collectstatic), so the browser caches the module for a year.
import { initAll } from '../nhsuk/nhsuk-frontend.min.js';

initAll()

function startSessionTimeout () {
  const settings = document.getElementById('session-settings')
  const dialog = document.getElementById('session-timeout-dialog')
  if (!settings || !dialog || typeof dialog.showModal !== 'function') return

  const idle = Number(settings.dataset.idleTimeout) * 1000
  const warnBefore = Number(settings.dataset.warningBefore) * 1000
  const countdown = dialog.querySelector('[data-countdown]')
  let warnTimer, endTimer, tick, endsAt

  function describe (ms) {
    const seconds = Math.max(0, Math.ceil(ms / 1000))
    if (seconds >= 60) {
      const minutes = Math.ceil(seconds / 60)
      return minutes + (minutes === 1 ? ' minute' : ' minutes')
    }
    return seconds + (seconds === 1 ? ' second' : ' seconds')
  }

  function warn () {
    countdown.textContent = describe(endsAt - Date.now())
    dialog.showModal()
    // Update the visible text each second, but screen readers only hear each minute change.
    tick = window.setInterval(() => {
      countdown.textContent = describe(endsAt - Date.now())
    }, 1000)
  }

  function schedule () {
    window.clearTimeout(warnTimer)
    window.clearTimeout(endTimer)
    window.clearInterval(tick)
    endsAt = Date.now() + idle
    warnTimer = window.setTimeout(warn, Math.max(0, idle - warnBefore))
    endTimer = window.setTimeout(() => {
      window.location.assign(settings.dataset.loginUrl)
    }, idle)
  }

  dialog.querySelector('[data-session-extend]').addEventListener('click', async () => {
    const response = await fetch(settings.dataset.extendUrl, {
      method: 'POST',
      headers: { 'X-CSRFToken': settings.dataset.csrfToken },
      credentials: 'same-origin'
    })
    if (!response.ok) {
      window.location.assign(settings.dataset.loginUrl)
      return
    }
    dialog.close()
    schedule()
  })
  // Escape closes the dialog; that is not a choice to stay, so the timers keep running.
  dialog.addEventListener('cancel', (event) => event.preventDefault())
  schedule()
}

startSessionTimeout()
