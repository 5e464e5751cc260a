// Where the `keystroke` command is: the setting, then the workspace's Python environment, then PATH.
import * as fs from "fs";
import * as path from "path";

const ENVIRONMENTS = [".venv", "venv", "env"];

function runnable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function inEnvironment(root: string): string | undefined {
  const bin = process.platform === "win32" ? ["Scripts", "keystroke.exe"] : ["bin", "keystroke"];
  return ENVIRONMENTS.map((name) => path.join(root, name, ...bin)).find(runnable);
}

function onPath(): string | undefined {
  const names = process.platform === "win32" ? ["keystroke.exe", "keystroke.cmd"] : ["keystroke"];
  for (const dir of (process.env.PATH ?? "").split(path.delimiter).filter(Boolean)) {
    const found = names.map((name) => path.join(dir, name)).find(runnable);
    if (found) return found;
  }
  return undefined;
}

/** The keystroke executable, or undefined when there is none (the caller says what to install). */
export function findExecutable(setting: string, folders: readonly string[]): string | undefined {
  if (setting) return runnable(setting) ? setting : undefined;
  const virtualEnv = process.env.VIRTUAL_ENV;
  const roots = virtualEnv ? [...folders, path.dirname(virtualEnv)] : folders;
  for (const root of roots) {
    const found = inEnvironment(root);
    if (found) return found;
  }
  return onPath();
}

export const INSTALL_HINT =
  "keystroke is not installed: run `pip install keystroke` (or `pip install -e .` in a checkout) in this " +
  "workspace's Python environment, or set `keystroke.path` to the `keystroke` executable.";
