/**
 * What the image must contain for the manifests to run, checked against the Dockerfile (no Docker
 * engine here, so it is read, not built) and .dockerignore: every entrypoint a Service or an
 * allowed Job target runs, the Job template the manager reads, the port, and the non-root user.
 */
import { type Bundle, asArray, at, jobTemplates, knativeServices, show } from './load.ts';
import { containerEnv, serviceContainer } from './env-refs.ts';
import { managerConfig } from './render.ts';

/** `.dockerignore` patterns as regexes (`*`, `**`, `?`; `!` re-includes), Docker's matching order. */
function ignoredBy(dockerignore: string): (p: string) => boolean {
  const rules = dockerignore
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pat = (negate ? l.slice(1) : l).replace(/^\/+/, '').replace(/\/+$/, '');
      const re = pat
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*\*\//g, '\uE000')
        .replace(/\*\*/g, '\uE001')
        .replace(/\*/g, '[^/]*')
        .replace(/\?/g, '[^/]')
        .replace(/\uE000/g, '(?:.*/)?')
        .replace(/\uE001/g, '.*');
      return { negate, re: new RegExp(`^${re}$`) };
    });
  return (p) => {
    // A path is excluded when it, or a directory above it, matches (the last matching rule wins).
    const parts = p.split('/');
    let ignored = false;
    for (let i = 1; i <= parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      for (const r of rules) if (r.re.test(prefix)) ignored = !r.negate;
    }
    return ignored;
  };
}

/** Sources of the COPY instructions of the final stage that copy from the build context. */
function finalStageCopies(dockerfile: string): { sources: string[]; fromStage: string[]; text: string } {
  const stages = dockerfile.split(/^FROM\s/im);
  const text = stages[stages.length - 1] ?? '';
  const sources: string[] = [];
  const fromStage: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^COPY\s+(.*)$/i.exec(line.trim());
    if (!m) continue;
    const words = (m[1] ?? '').split(/\s+/);
    const flags = words.filter((w) => w.startsWith('--'));
    const args = words.filter((w) => !w.startsWith('--'));
    const srcs = args.slice(0, -1).map((s) => s.replace(/^\.\//, '').replace(/\/+$/, '') || '.');
    if (flags.some((f) => f.startsWith('--from='))) fromStage.push(...srcs);
    else sources.push(...srcs);
  }
  return { sources, fromStage, text };
}

export function imageContentProblems(b: Bundle): string[] {
  const p: string[] = [];
  if (!b.dockerfile) return ['Dockerfile is missing'];
  const { sources, fromStage, text } = finalStageCopies(b.dockerfile);
  const needed = new Set(['package.json', 'package-lock.json', 'shared/runtime/config.ts']);
  for (const d of knativeServices(b)) {
    const fn = containerEnv(b, serviceContainer(d), { knative: true }).env['STREAMFORGE_FUNCTION'];
    needed.add(`functions/${String(fn)}/main.ts`);
  }
  try {
    const cfg = managerConfig(b);
    needed.add(cfg.JOB_TEMPLATE);
    for (const target of Object.keys(cfg.JOB_IMAGES)) needed.add(`functions/${target}/main.ts`);
  } catch {
    p.push('the queue-manager configuration does not parse (see the env checks)');
  }
  const ignored = ignoredBy(b.dockerignore);
  for (const n of needed) {
    if (!sources.some((s) => s === '.' || n === s || n.startsWith(`${s}/`)))
      p.push(`Dockerfile: the final stage does not COPY ${n}`);
    if (ignored(n)) p.push(`.dockerignore excludes ${n}, which the image needs`);
  }
  if (!fromStage.some((s) => s.endsWith('node_modules')))
    p.push('Dockerfile: the final stage does not copy node_modules from the deps stage');

  const major = Number(/node:(\d+)/.exec(b.dockerfile)?.[1] ?? 0);
  if (major < 20 || major % 2 === 1) p.push(`Dockerfile: node:${major} is not a Node LTS line >= 20`);
  const uid = /^USER\s+(\d+)(?::(\d+))?\s*$/im.exec(text);
  if (!uid || Number(uid[1]) === 0) p.push('Dockerfile: the final stage must set a numeric non-root USER');
  const expose = Number(/^EXPOSE\s+(\d+)/im.exec(text)?.[1] ?? 0);
  if (!/STREAMFORGE_FUNCTION/.test(/^ENTRYPOINT.*$/im.exec(text)?.[0] ?? ''))
    p.push('Dockerfile: the ENTRYPOINT must select the function by STREAMFORGE_FUNCTION');

  for (const d of knativeServices(b)) {
    const c = serviceContainer(d);
    const port = Number(at(asArray(at(c, 'ports'))[0], 'containerPort') ?? 8080);
    if (port !== expose) p.push(`${d.file}: containerPort ${port} differs from the image's EXPOSE ${expose}`);
    const runAs = at(c, 'securityContext.runAsUser');
    if (uid && runAs !== undefined && runAs !== Number(uid[1]))
      p.push(`${d.file}: runAsUser ${show(runAs)} differs from the image's USER ${uid[1]}`);
  }
  for (const d of jobTemplates(b)) {
    const runAs = at(d.doc, 'spec.template.spec.securityContext.runAsUser');
    if (uid && runAs !== undefined && runAs !== Number(uid[1]))
      p.push(`${d.file}: runAsUser ${show(runAs)} differs from the image's USER ${uid[1]}`);
    const command = asArray(at(asArray(at(d.doc, 'spec.template.spec.containers'))[0], 'command')).map(
      String,
    );
    if (command.join(' ') !== 'node --import tsx')
      p.push(`${d.file}: command must be node --import tsx (the manager adds functions/<target>/main.ts)`);
  }
  return p;
}
