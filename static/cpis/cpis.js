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

  // Sign-out is a POST (a GET link could be forged by any site), made only once the server
  // confirms the time is up: another tab may have kept the session alive meanwhile.
  function signOut () {
    const form = document.createElement('form')
    form.method = 'post'
    form.action = settings.dataset.logoutUrl
    for (const [name, value] of [['csrfmiddlewaretoken', settings.dataset.csrfToken], ['reason', 'timeout']]) {
      const input = document.createElement('input')
      input.type = 'hidden'
      input.name = name
      input.value = value
      form.appendChild(input)
    }
    document.body.appendChild(form)
    form.submit()
  }

  async function timeUp () {
    try {
      const response = await fetch(settings.dataset.statusUrl, {
        headers: { Accept: 'application/json' },
        credentials: 'same-origin'
      })
      if (response.ok && !response.redirected) {
        const { expires_in: left } = await response.json()
        if (left > 0) {
          if (dialog.open) dialog.close()
          schedule(left * 1000)
        } else {
          signOut()
        }
        return
      }
    } catch (error) {
      // Offline or the server is restarting: the server ends the session on the next request.
    }
    window.location.assign(settings.dataset.loginUrl)
  }

  function schedule (remaining = idle) {
    window.clearTimeout(warnTimer)
    window.clearTimeout(endTimer)
    window.clearInterval(tick)
    endsAt = Date.now() + remaining
    warnTimer = window.setTimeout(warn, Math.max(0, remaining - warnBefore))
    endTimer = window.setTimeout(timeUp, remaining)
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
