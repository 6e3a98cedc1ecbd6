const methodPaths = new WeakMap<object, string>();

/** `rte.v1.Service/Method` of a call, built once per method (issue 14: not a new string on every call). */
export function methodPath(req: { service: { typeName: string }; method: { name: string } }): string {
  let path = methodPaths.get(req.method);
  if (path === undefined) {
    path = `${req.service.typeName}/${req.method.name}`;
    methodPaths.set(req.method, path);
  }
  return path;
}
