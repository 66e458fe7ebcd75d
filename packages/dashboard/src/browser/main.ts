// The dashboard's script: a hash router between the home view (overview and job list) and a job's page.
import { setBase } from './api.js';
import { readConfig } from './config.js';
import { replace } from './dom.js';
import { filtersOf, HomeView } from './home.js';
import { JobView } from './job.js';

interface View {
  readonly element: HTMLElement;
  start(): void;
  stop(): void;
}

const config = readConfig();
setBase(config.base);
let current: View | null = null;

function route(): void {
  const main = document.getElementById('main');
  if (!main) return;
  current?.stop();
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path = '/', query = ''] = hash.split('?');
  const job = /^\/job\/([0-9a-f-]{36})$/.exec(path);
  current = job ? new JobView(job[1]!) : new HomeView(config, filtersOf(new URLSearchParams(query)));
  replace(main, current.element);
  current.start();
}

const who = document.getElementById('who');
if (who && config.owner.limited) who.textContent = `jobs of ${config.owner.owner ?? '(no owner)'}`;
window.addEventListener('hashchange', route);
route();
