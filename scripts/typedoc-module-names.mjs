// A typedoc plugin: title each entry module by the specifier users import (`session-fetch/redis`) instead of
// its file path (`redis/index`), without a `@module` tag in the sources.
import { relative } from 'node:path'
import { Converter, ParameterType, ReflectionKind } from 'typedoc'

export function load(app) {
  app.options.addDeclaration({
    name: 'moduleNames',
    help: 'Source path of each entry point → the title of its module.',
    type: ParameterType.Mixed,
    defaultValue: {},
  })
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    const names = app.options.getValue('moduleNames')
    for (const module of context.project.getReflectionsByKind(ReflectionKind.Module)) {
      const file = module.sources?.[0]?.fullFileName
      const name = file && names[relative(process.cwd(), file)]
      if (name) module.name = name
    }
  })
}
