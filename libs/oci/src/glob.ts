/**
 * A repository or tag glob, as the access policy and the repository rules write them: `*` stays
 * within one path segment, `**` crosses segments; everything else is literal.
 */
export function compileGlob(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') {
      re += '[^/]*';
    } else {
      re += c.replace(/[.\-/+]/g, '\\$&');
    }
  }
  return new RegExp(`^${re}$`);
}
