/**
 * Programs that write files whose names are in their arguments: a line that writes a file and
 * runs it is not what it shows (see `written-then-run`). Returns the paths written, and
 * `undefined` for a file whose name the policy cannot know (a dynamic word, a download named by
 * its URL, an archive's contents).
 */
export function writtenBy(program: string, args: readonly (string | undefined)[]): (string | undefined)[] {
  const operands = args.filter((a) => a === undefined || !a.startsWith('-'));
  switch (program) {
    case 'tee':
    case 'touch':
    case 'truncate':
      return operands;
    case 'cp':
    case 'mv':
    case 'install':
    case 'ln':
    case 'rsync':
    case 'scp':
      // The destination, and each source's name (when the destination is a directory).
      return operands;
    case 'dd':
      return args.flatMap((a) => (a === undefined ? [undefined] : a.startsWith('of=') ? [a.slice(3)] : []));
    case 'curl': {
      const out: (string | undefined)[] = [];
      args.forEach((a, i) => {
        if (a === undefined) out.push(undefined);
        else if (a === '--output' || /^-[A-Za-z]*o$/.test(a)) out.push(args[i + 1]);
        else if (a.startsWith('--output=')) out.push(a.slice(9));
        else if (a === '--remote-name' || a === '--remote-name-all' || /^-[A-Za-z]*O/.test(a)) out.push(undefined);
      });
      return out;
    }
    case 'wget': {
      const named = args.findIndex((a) => a === '-O' || a === '--output-document');
      if (named >= 0) return [args[named + 1]];
      const inline = args.find((a) => a?.startsWith('--output-document='));
      return [inline === undefined ? undefined : inline.slice(18)];
    }
    case 'tar':
    case 'gtar':
    case 'bsdtar':
      return args.some((a) => a === undefined || /^(-?[A-Za-z]*x|--extract|--get)/.test(a)) ? [undefined] : [];
    case 'unzip':
    case '7z':
    case '7za':
    case 'cpio':
    case 'patch':
    case 'git':
    case 'gunzip':
    case 'bunzip2':
    case 'unxz':
    case 'zcat':
    case 'base32':
    case 'uudecode':
    case 'ar':
      return [undefined];
    default:
      return args.includes(undefined) && /^(cp|mv)$/.test(program) ? [undefined] : [];
  }
}
