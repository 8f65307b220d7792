/**
 * Reads a synthesized `AWS::CloudWatch::Dashboard` body: joins its
 * `Fn::Join`, replacing each CloudFormation token with a readable placeholder
 * (`{Ref:Id}`, `{GetAtt:Id.Attr}`), and lists the metrics its widgets query.
 */

export interface DashboardWidget {
  readonly type: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly properties: {
    readonly title?: string;
    readonly markdown?: string;
    readonly alarms?: readonly string[];
    readonly metrics?: readonly (readonly unknown[])[];
    readonly annotations?: { readonly horizontal?: readonly { value: number; label?: string }[] };
    readonly stacked?: boolean;
  };
}

export interface DashboardBody {
  readonly start?: string;
  readonly widgets: readonly DashboardWidget[];
}

/** One metric a widget queries: namespace, name and dimensions (expressions are listed apart). */
export interface QueriedMetric {
  readonly namespace: string;
  readonly name: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly stat?: string;
}

export function parseDashboardBody(body: unknown): DashboardBody {
  return JSON.parse(renderTokens(body)) as DashboardBody;
}

function renderTokens(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value !== 'object' || value === null) return String(value);
  const record = value as Record<string, unknown>;
  const join = record['Fn::Join'] as [string, unknown[]] | undefined;
  if (join) return join[1].map(renderTokens).join(join[0]);
  if (typeof record.Ref === 'string') return `{Ref:${record.Ref}}`;
  const getAtt = record['Fn::GetAtt'] as [string, string] | undefined;
  if (getAtt) return `{GetAtt:${getAtt[0]}.${getAtt[1]}}`;
  throw new Error(`unexpected token in dashboard body: ${JSON.stringify(value)}`);
}

/** Metrics (not expressions) of one widget, from CloudWatch's `[ns, name, dim, value, …, {options}]` rows. */
export function queriedMetrics(widget: DashboardWidget): QueriedMetric[] {
  return (widget.properties.metrics ?? []).flatMap((row) => {
    const parts = [...row];
    const options =
      typeof parts.at(-1) === 'object' && parts.at(-1) !== null
        ? (parts.pop() as Record<string, unknown>)
        : {};
    if (parts.length === 0) return []; // a math expression row: { expression, id, label }
    const [namespace, name, ...pairs] = parts as string[];
    if (namespace === '.' || name === '.')
      throw new Error('shorthand metric rows are not expected from the CDK');
    const dimensions: Record<string, string> = {};
    for (let i = 0; i < pairs.length; i += 2) dimensions[pairs[i] as string] = pairs[i + 1] as string;
    return [
      {
        namespace: namespace as string,
        name: name as string,
        dimensions,
        ...(typeof options.stat === 'string' ? { stat: options.stat } : {}),
      },
    ];
  });
}

/** Math expressions of one widget. */
export function queriedExpressions(widget: DashboardWidget): string[] {
  return (widget.properties.metrics ?? []).flatMap((row) => {
    const options = row.at(-1) as Record<string, unknown> | undefined;
    return row.length === 1 && typeof options?.expression === 'string' ? [options.expression] : [];
  });
}

/** A canonical string for a metric identity, for set comparisons. */
export function metricKey(metric: Pick<QueriedMetric, 'name' | 'dimensions'>): string {
  const dimensions = Object.entries(metric.dimensions)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return `${metric.name}{${dimensions}}`;
}

/** One SEARCH of a widget: the schema it searches and the terms it filters on. */
export interface SearchedSchema {
  readonly namespace: string;
  /** Dimension names of the schema, sorted. */
  readonly dimensions: readonly string[];
  /** `Name="value"` terms of the search, e.g. `MetricName`, `Environment`. */
  readonly terms: Readonly<Record<string, string>>;
  readonly statistic: string;
  readonly periodSeconds: number;
}

/** Every `SEARCH('{Namespace,Dim,…} Term="v" …', 'Stat', period)` in a widget's expressions. */
export function searchedSchemas(widget: DashboardWidget): SearchedSchema[] {
  return queriedExpressions(widget).flatMap((expression) =>
    [...expression.matchAll(/SEARCH\('\{([^}]*)\}([^']*)',\s*'([^']+)',\s*(\d+)\)/g)].map((match) => {
      const [namespace = '', ...dimensions] = (match[1] ?? '').split(',').map((part) => part.trim());
      const terms = Object.fromEntries(
        [...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((term) => [term[1] ?? '', term[2] ?? '']),
      );
      return {
        namespace,
        dimensions: dimensions.sort(),
        terms,
        statistic: match[3] ?? '',
        periodSeconds: Number(match[4]),
      };
    }),
  );
}
