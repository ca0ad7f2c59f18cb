/* frontend/onnx_schema.h — the ONNX operator schemas onnxcc checks nodes
 * against: for each ai.onnx op of ir/ops.def, every version of its schema
 * (since_version) with the names and AttributeProto types of its
 * attributes.  The table (frontend/onnx_schema.c) is generated from the
 * ONNX specification by scripts/gen_onnx_schema.py.
 */
#ifndef ONNXCC_FRONTEND_ONNX_SCHEMA_H
#define ONNXCC_FRONTEND_ONNX_SCHEMA_H

typedef struct OnnxSchemaAttr {
	const char *name;
	int type;            /* AttributeProto.AttributeType (AK_* numbers) */
} OnnxSchemaAttr;

typedef struct OnnxSchema {
	const char *op;      /* op_type in the default domain */
	int since;           /* opset version that introduced this schema */
	int nattrs;
	const OnnxSchemaAttr *attrs;
} OnnxSchema;

extern const OnnxSchema onnx_schemas[];
extern const int onnx_nschemas;
/* The highest ai.onnx opset version the table describes. */
extern const int onnx_max_opset;

#endif
