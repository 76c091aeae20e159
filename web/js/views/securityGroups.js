// securityGroups.js - SECURITY GROUPS (Deck's "Firewalls"). The local
// provider has no firewalls; the tab says so instead of pretending.

import { html, render } from '../dom.js';

export function mount(el, ctx) {
  render(el, html`<div class="toolbar"><h2>Security Groups</h2></div>
    <div class="empty-state"><p>The <strong>local</strong> cloud provider has no security groups (firewalls):
    instances listen on loopback ports and are reached through their load balancer.</p></div>`);
}
