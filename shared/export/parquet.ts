/**
 * Parquet of exported records, written row group by row group (hyparquet-writer): the bytes of
 * each row group leave as soon as it is encoded, and only the footer (schema, row group
 * offsets, statistics) is kept until the end. Column types (docs/export.md): timestamps INT64
 * TIMESTAMP(MILLIS, adjusted to UTC), integers INT64, decimals and strings STRING (UTF-8; the
 * decimals are the exchange's exact strings), booleans BOOLEAN, depth levels
 * LIST<STRUCT<price STRING, qty STRING>>. Optional record fields are OPTIONAL columns.
 */
import { ByteWriter, ParquetWriter, type ColumnSource, type SchemaElement } from 'hyparquet-writer';
import type { ColumnType, ExportColumn } from './columns.ts';

/** Rows per row group: a few pages of the store, so memory stays bounded and files stay readable. */
export const PARQUET_ROW_GROUP_ROWS = 20_000;

const STRING = { type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } } as const;

function leaf(name: string, type: Exclude<ColumnType, 'levels'>, required: boolean): SchemaElement {
  const repetition_type = required ? 'REQUIRED' : 'OPTIONAL';
  switch (type) {
    case 'timestamp':
      return {
        name,
        repetition_type,
        type: 'INT64',
        converted_type: 'TIMESTAMP_MILLIS',
        logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MILLIS' },
      };
    case 'int64':
      // Plain INT64 is a signed 64-bit integer. (No INTEGER logical type: hyparquet-writer 0.17.0
      // encodes its bitWidth so that pyarrow cannot read the footer.)
      return { name, repetition_type, type: 'INT64' };
    case 'boolean':
      return { name, repetition_type, type: 'BOOLEAN' };
    default:
      return { name, repetition_type, ...STRING };
  }
}

/** The Parquet schema of the columns (the flattened tree hyparquet-writer takes). */
export function parquetSchema(columns: readonly ExportColumn[]): SchemaElement[] {
  const out: SchemaElement[] = [{ name: 'schema', num_children: columns.length }];
  for (const c of columns) {
    if (c.type !== 'levels') {
      out.push(leaf(c.name, c.type, !c.nullable));
      continue;
    }
    // The standard three-level LIST (parquet-format LogicalTypes.md "Lists").
    out.push(
      {
        name: c.name,
        repetition_type: c.nullable ? 'OPTIONAL' : 'REQUIRED',
        converted_type: 'LIST',
        logical_type: { type: 'LIST' },
        num_children: 1,
      },
      { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
      { name: 'element', repetition_type: 'REQUIRED', num_children: 2 },
      leaf('price', 'decimal', true),
      leaf('qty', 'decimal', true),
    );
  }
  return out;
}

/** A column's values for hyparquet-writer: INT64 as bigint, levels as structs, absent as null. */
function columnData(col: ExportColumn, docs: readonly Record<string, unknown>[]): unknown[] {
  const name = col.name;
  switch (col.type) {
    case 'timestamp':
    case 'int64':
      return docs.map((d) => {
        const v = d[name];
        return v === undefined || v === null ? null : BigInt(v as number);
      });
    case 'levels':
      return docs.map((d) => {
        const v = d[name] as [string, string][] | undefined;
        return v === undefined || v === null ? null : v.map(([price, qty]) => ({ price, qty }));
      });
    default:
      return docs.map((d) => d[name] ?? null);
  }
}

/** hyparquet-writer's Writer that hands each flushed run of bytes to `out` instead of growing. */
class ChunkWriter extends ByteWriter {
  constructor(private readonly out: Uint8Array[]) {
    super(1 << 20);
  }
  flush(): void {
    if (this.index === 0) return;
    // A copy: the buffer is reused for the next row group.
    this.out.push(new Uint8Array(this.buffer.slice(0, this.index)));
    this.index = 0;
  }
  override finish(): void {
    this.flush();
  }
}

export interface ParquetEncoder {
  /** Takes a page of records; returns the bytes of every row group it completed (often none). */
  write(docs: readonly Record<string, unknown>[]): Uint8Array[];
  /** The last row group and the footer. */
  end(): Uint8Array[];
}

export function parquetEncoder(
  columns: readonly ExportColumn[],
  opts: { rowGroupRows?: number; metadata?: Record<string, string> } = {},
): ParquetEncoder {
  const rowGroupRows = opts.rowGroupRows ?? PARQUET_ROW_GROUP_ROWS;
  const chunks: Uint8Array[] = [];
  const writer = new ChunkWriter(chunks);
  const pw = new ParquetWriter({
    writer,
    schema: parquetSchema(columns),
    createdBy: 'streamforge (hyparquet-writer 0.17.0)',
    kvMetadata: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
  });
  let pending: Record<string, unknown>[] = [];
  const take = (): Uint8Array[] => chunks.splice(0, chunks.length);
  const writeGroup = () => {
    if (pending.length === 0) return;
    const docs = pending;
    pending = [];
    const data: ColumnSource[] = columns.map((c) => ({
      name: c.name,
      data: columnData(c, docs) as ColumnSource['data'],
    }));
    // One write, one row group (ChunkWriter.flush is synchronous, so write returns nothing).
    void pw.write({ columnData: data, rowGroupSize: docs.length });
  };
  return {
    write(docs) {
      for (const d of docs) pending.push(d);
      if (pending.length >= rowGroupRows) writeGroup();
      return take();
    },
    end() {
      writeGroup();
      void pw.finish();
      return take();
    },
  };
}
