import { formatScope, parseResourceScope, parseScopes } from './scope';

describe('scope parsing', () => {
  it('reads type, name and actions of a repository scope', () => {
    expect(parseResourceScope('repository:team/app:pull,push')).toEqual({
      type: 'repository',
      name: 'team/app',
      actions: ['pull', 'push'],
    });
  });

  it('keeps a host with a port in the name instead of splitting on the first colons', () => {
    expect(parseResourceScope('repository:localhost:5000/team/app:pull')).toEqual({
      type: 'repository',
      name: 'localhost:5000/team/app',
      actions: ['pull'],
    });
    expect(parseResourceScope('repository:registry.example.com:443/a/b/c:push,pull')?.name).toBe(
      'registry.example.com:443/a/b/c',
    );
  });

  it('reads names with many slashes', () => {
    expect(parseResourceScope('repository:a/b/c/d/e:delete')?.name).toBe('a/b/c/d/e');
  });

  it('reads registry:catalog:*', () => {
    expect(parseResourceScope('registry:catalog:*')).toEqual({
      type: 'registry',
      name: 'catalog',
      actions: ['*'],
    });
  });

  it('treats the deprecated repository(plugin) class as a repository', () => {
    expect(parseResourceScope('repository(plugin):team/app:pull')?.type).toBe('repository');
  });

  it('drops empty and duplicate actions', () => {
    expect(parseResourceScope('repository:a:pull,,pull')?.actions).toEqual(['pull']);
    expect(parseResourceScope('repository:a:')?.actions).toEqual([]);
  });

  it.each([
    'repository',
    'repository:team/app',
    ':team/app:pull',
    'Repository:a:pull',
    'repository:a b:pull',
    'repository:a"b:pull',
    'repository:a:PULL',
    'repository:a:pull;rm',
  ])('rejects %p', (scope) => {
    expect(parseResourceScope(scope)).toBeUndefined();
  });

  it('splits several scopes in one value on spaces and reads repeated values', () => {
    expect(parseScopes(['repository:a:pull repository:b:push', 'registry:catalog:*'])).toEqual([
      { type: 'repository', name: 'a', actions: ['pull'] },
      { type: 'repository', name: 'b', actions: ['push'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
    expect(parseScopes([''])).toEqual([]);
  });

  it('rejects the whole request when one scope is malformed', () => {
    expect(parseScopes(['repository:a:pull', 'nonsense'])).toBeUndefined();
  });

  it('formats scopes back to the wire form', () => {
    expect(
      formatScope([
        { type: 'repository', name: 'localhost:5000/a', actions: ['pull', 'push'] },
        { type: 'registry', name: 'catalog', actions: ['*'] },
      ]),
    ).toBe('repository:localhost:5000/a:pull,push registry:catalog:*');
  });
});
