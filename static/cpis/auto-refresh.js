// Pages with live figures (service health, an LA's delivery page): every 30 s, fetch the page
// again and swap in its `[data-auto-refresh]` region, without moving focus or the scroll
// position. The user can stop the updates (WCAG 2.2.1). Without JavaScript the page is simply
// as it was when loaded; the browser's reload shows new figures.
const region = document.querySelector('[data-auto-refresh]')
const controls = document.querySelector('[data-auto-refresh-controls]')

if (region && controls) {
  const INTERVAL = 30000
  const status = controls.querySelector('[data-auto-refresh-status]')
  const toggle = controls.querySelector('[data-auto-refresh-toggle]')
  let timer = null

  async function refresh () {
    try {
      const response = await fetch(window.location.href, { credentials: 'same-origin' })
      if (response.ok) {
        const page = new DOMParser().parseFromString(await response.text(), 'text/html')
        const fresh = page.querySelector('[data-auto-refresh]')
        if (fresh) {
          region.replaceChildren(...fresh.childNodes)
        }
      }
    } catch (error) {
      // A dropped request is tried again at the next interval.
    }
    timer = window.setTimeout(refresh, INTERVAL)
  }

  toggle.addEventListener('click', () => {
    if (timer === null) {
      timer = window.setTimeout(refresh, 0)
      toggle.textContent = 'Stop updating'
      status.textContent = 'Figures update every 30 seconds.'
    } else {
      window.clearTimeout(timer)
      timer = null
      toggle.textContent = 'Start updating'
      status.textContent = 'Updates stopped.'
    }
  })

  controls.hidden = false
  timer = window.setTimeout(refresh, INTERVAL)
}
