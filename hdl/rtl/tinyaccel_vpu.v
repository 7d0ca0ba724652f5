// tinyaccel_vpu: the vector unit of the compute engine (docs/architecture.md 3.5, `VSET`,
// `VCOMPUTE`). LANES lanes (the system instantiates LANES = ROWS); lane j works on byte j
// of an input line, byte j of a weight line and int32 lane j of an accumulator line.
//
// Parameters say which modes exist (a mode whose parameter is 0 has no logic; the host's
// `Command::check` rejects it): DEPTHWISE -> MAC, POOLING -> SUM (with the rounding
// divide of average pooling) and MAX, ELTWISE -> ADD (TFLite's two-input rescale).
//
// The unit holds:
// - the mode registers, written by `set` with the 128-bit VSET command (modes 0-2: mode,
//   tap_stride, divisor; mode 3: mode and the ADD rescale), cleared by `clear` (every
//   start) and `rst`;
// - the read sequencer of a VCOMPUTE: `start` is the command's first cycle (tau = 0); in
//   cycle tau = p*k + t (tau < m*k) it asks for input line a_line + t*S + p (`in_rd`,
//   `in_line`) and, in MAC mode, weight line b_line + t, in ADD mode b_line + p (`w_rd`,
//   `w_line`), combinationally, so the system's scratchpad read and its bank-conflict
//   check see them in that cycle. The line addresses are counters (no multiply);
// - the lanes, VPU_DEPTH = 3 stages behind the registered scratchpad read
//   (EDGE_LATENCY = 1): the line read in cycle tau is on `a_vec`/`b_vec` in tau+1;
//     stage 1 (lane operation): MAC x*w (int8 x int8), SUM/MAX x, ADD the two rescales'
//       `(off + x) << left_shift` shifted and SaturatingRoundingDoublingHighMul'd;
//     stage 2 (reduction): MAC/SUM running sum (cleared at t = 0), MAX running maximum,
//       ADD the two RoundingDivideByPOT results added (wrapping);
//     stage 3 (divide / output register): SUM with divisor d > 0: (v + d/2) / d for
//       v > 0, (v - d/2) / d otherwise (C division), else v;
//   so the value of position p is on `out_vec` with `out_valid` in cycle
//   d_p = (p+1)*k - 1 + 1 + 3, the contract's cycle.
//
// SUM's divide: |v| <= k * 128 <= 65535 * 128 < 2^23 (k is a 16-bit field), so the
// divider is an unsigned 24-bit by 16-bit Verilog `/` on |v| + d/2 with the sign put
// back (C's truncation toward zero), bit-exact with the contract for every encodable
// command.
module tinyaccel_vpu #(
    parameter LANES = 4,
    parameter DEPTHWISE = 1,
    parameter POOLING = 1,
    parameter ELTWISE = 1
) (
    input  wire                 clk,
    input  wire                 rst,
    input  wire                 clear,
    input  wire                 vset,
    input  wire [127:0]         set_cmd,
    input  wire                 start,
    input  wire [23:0]          c_aline,
    input  wire [23:0]          c_bline,
    input  wire [15:0]          c_m,
    input  wire [15:0]          c_k,
    output reg                  in_rd,
    output reg  [31:0]          in_line,
    output reg                  w_rd,
    output reg  [31:0]          w_line,
    input  wire [8*LANES-1:0]   a_vec,
    input  wire [8*LANES-1:0]   b_vec,
    output reg                  out_valid,
    output reg  [32*LANES-1:0]  out_vec,
    output wire [1:0]           mode_out
);
    localparam M_MAC = 2'd0, M_SUM = 2'd1, M_MAX = 2'd2, M_ADD = 2'd3;

    // ------------------------------------------------------------------ mode registers
    reg [1:0]  mode;
    reg [23:0] stride;
    reg [15:0] divisor;
    reg [8:0]  off1, off2;
    reg [5:0]  lshift;
    reg [31:0] m1, m2;
    reg [5:0]  s1, s2;
    assign mode_out = mode;
    always @(posedge clk) begin
        if (rst || clear) begin
            mode <= M_MAC; stride <= 24'd0; divisor <= 16'd0;
            off1 <= 9'd0; off2 <= 9'd0; lshift <= 6'd0;
            m1 <= 32'd0; m2 <= 32'd0; s1 <= 6'd0; s2 <= 6'd0;
        end else if (vset) begin
            mode <= set_cmd[9:8];
            if (set_cmd[9:8] == M_ADD) begin
                off1 <= set_cmd[24:16]; off2 <= set_cmd[33:25]; lshift <= set_cmd[39:34];
                m1 <= set_cmd[71:40]; s1 <= set_cmd[77:72];
                m2 <= set_cmd[111:80]; s2 <= set_cmd[117:112];
            end else begin
                stride <= set_cmd[39:16]; divisor <= set_cmd[55:40];
            end
        end
    end

    // ------------------------------------------------------------------ read sequencer
    reg        busy;
    reg [15:0] t_r, p_r, k_r, m_r;
    reg [31:0] ptr_r, base_r, wptr_r, bline_r;
    wire       act = start || busy;
    wire [15:0] t_c = start ? 16'd0 : t_r;
    wire [15:0] p_c = start ? 16'd0 : p_r;
    wire [15:0] k_c = start ? c_k : k_r;
    wire [15:0] m_c = start ? c_m : m_r;
    wire [31:0] ptr_c = start ? {8'd0, c_aline} : ptr_r;
    wire [31:0] base_c = start ? {8'd0, c_aline} : base_r;
    wire [31:0] wptr_c = start ? {8'd0, c_bline} : wptr_r;
    wire [31:0] bline_c = start ? {8'd0, c_bline} : bline_r;
    wire        t_last = t_c + 16'd1 == k_c;
    wire        p_last = p_c + 16'd1 == m_c;
    always @(*) begin
        in_rd = act;
        in_line = ptr_c;
        w_rd = act && ((DEPTHWISE != 0 && mode == M_MAC) || (ELTWISE != 0 && mode == M_ADD));
        w_line = wptr_c;
    end
    always @(posedge clk) begin
        if (rst || clear) begin
            busy <= 1'b0;
        end else if (act) begin
            busy <= !(t_last && p_last);
            k_r <= k_c; m_r <= m_c; bline_r <= bline_c;
            if (t_last) begin
                t_r <= 16'd0;
                p_r <= p_c + 16'd1;
                base_r <= base_c + 32'd1;
                ptr_r <= base_c + 32'd1;
                wptr_r <= (mode == M_ADD) ? wptr_c + 32'd1 : bline_c;
            end else begin
                t_r <= t_c + 16'd1;
                p_r <= p_c;
                base_r <= base_c;
                ptr_r <= ptr_c + {8'd0, stride};
                wptr_r <= wptr_c + 32'd1;
            end
        end
    end

    // ------------------------------------------------------------------ lane arithmetic
    // RoundingDivideByPOT: x / 2^e rounded to nearest, ties away from zero (e in 0..31).
    function automatic [31:0] rdbp(input [31:0] x, input [4:0] e);
        reg [31:0] mask, rem, thr;
        reg signed [31:0] sx;
        begin
            mask = (32'd1 << e) - 32'd1;
            rem = x & mask;
            thr = (mask >> 1) + {31'd0, x[31]};
            sx = $signed(x) >>> e;
            rdbp = sx + ((rem > thr) ? 32'd1 : 32'd0);
        end
    endfunction
    // One rescale of ADD up to the high multiply: x = ((off + x) << left_shift) <<
    // max(s, 0), both shifts wrapping in 32 bits, then SaturatingRoundingDoublingHighMul
    // (x, m). The shifted operand has at most 10 significant bits: x = xs << sh with
    // xs = x >>> sh (the low 32 - sh bits of off + x, sign-extended), so the 64-bit
    // product is the 10 x 32-bit product xs * m shifted left by sh (exact: |x * m| <=
    // 2^62). Saturation when x and m are both i32::MIN.
    function automatic [31:0] rescale_hi(input [8:0] off, input [7:0] x, input [5:0] ls,
                                         input [31:0] m, input [5:0] s);
        reg [9:0] v;
        reg [6:0] sh;
        reg [31:0] x32;
        reg signed [31:0] xw;
        reg signed [9:0] xs;
        reg signed [31:0] ms;
        reg signed [41:0] p;
        reg [63:0] prod, nudged, trunc;
        begin
            v = {off[8], off} + {{2{x[7]}}, x};
            sh = {1'b0, ls} + (s[5] ? 7'd0 : {1'b0, s});
            x32 = (sh > 7'd31) ? 32'd0 : ({{22{v[9]}}, v} << sh[4:0]);
            xw = $signed(x32) >>> sh[4:0];
            xs = xw[9:0];
            ms = m;
            p = xs * ms;
            prod = (sh > 7'd31) ? 64'd0 : ({{22{p[41]}}, p} << sh[4:0]);
            nudged = prod + (prod[63] ? 64'hFFFF_FFFF_C000_0001 : 64'h0000_0000_4000_0000);
            trunc = nudged + (nudged[63] ? 64'h0000_0000_7FFF_FFFF : 64'h0);
            rescale_hi = (x32 == 32'h8000_0000 && m == 32'h8000_0000)
                ? 32'h7FFF_FFFF : trunc[62:31];
        end
    endfunction
    // The right shift of MultiplyByQuantizedMultiplier: min(max(-s, 0), 31).
    function automatic [4:0] right_of(input [5:0] s);
        reg [5:0] neg;
        begin
            neg = 6'd0 - s;
            if (!s[5]) right_of = 5'd0;
            else if (s == 6'b100000) right_of = 5'd31;
            else right_of = neg[4:0];
        end
    endfunction

    // ------------------------------------------------------------------ lane pipeline
    // Flags: cycle tau (read), tau+1 (data at a_vec: stage 1), tau+2 (stage 2), tau+3
    // (stage 3), out_valid in tau+4 for the last tap of a position.
    reg v1, f1, l1, v2, f2, l2, l3;
    always @(posedge clk) begin
        if (rst || clear) begin
            v1 <= 1'b0; v2 <= 1'b0; l3 <= 1'b0; out_valid <= 1'b0;
            f1 <= 1'b0; l1 <= 1'b0; f2 <= 1'b0; l2 <= 1'b0;
        end else begin
            v1 <= act; f1 <= t_c == 16'd0; l1 <= t_last;
            v2 <= v1; f2 <= f1; l2 <= l1;
            l3 <= v2 && l2;
            out_valid <= l3;
        end
    end

    wire [4:0] r1 = right_of(s1);
    wire [4:0] r2 = right_of(s2);
    wire [15:0] half_d = {1'b0, divisor[15:1]};
    genvar j;
    generate
        for (j = 0; j < LANES; j = j + 1) begin : g_lane
            wire [7:0] a = a_vec[8*j +: 8];
            wire [7:0] b = b_vec[8*j +: 8];
            reg [31:0] st1, st1b;   // stage 1: lane operation (ADD: both rescales)
            reg [31:0] acc;         // stage 2: reduction
            reg [31:0] d1, d1b;
            reg [31:0] red;
            wire [31:0] res;
            wire signed [15:0] prod = $signed({{8{a[7]}}, a}) * $signed({{8{b[7]}}, b});
            always @(*) begin
                d1 = 32'd0;
                d1b = 32'd0;
                case (mode)
                    M_MAC: if (DEPTHWISE != 0) d1 = {{16{prod[15]}}, prod};
                    M_SUM, M_MAX: if (POOLING != 0) d1 = {{24{a[7]}}, a};
                    default: if (ELTWISE != 0) begin
                        d1 = rescale_hi(off1, a, lshift, m1, s1);
                        d1b = rescale_hi(off2, b, lshift, m2, s2);
                    end
                endcase
                red = 32'd0;
                case (mode)
                    M_MAC, M_SUM: if (DEPTHWISE != 0 || POOLING != 0)
                        red = (f2 ? 32'd0 : acc) + st1;
                    M_MAX: if (POOLING != 0)
                        red = (f2 || $signed(st1) > $signed(acc)) ? st1 : acc;
                    default: if (ELTWISE != 0) red = rdbp(st1, r1) + rdbp(st1b, r2);
                endcase
            end
            // Stage 3: SUM's rounding divide (C division of |v| + d/2, sign put back).
            if (POOLING != 0) begin : g_div
                wire [23:0] mag = acc[31] ? (24'd0 - acc[23:0]) : acc[23:0];
                wire [23:0] quo = (mag + {8'd0, half_d}) / {8'd0, divisor};
                wire [31:0] sq = {8'd0, quo};
                assign res = (mode == M_SUM && divisor != 16'd0)
                           ? (acc[31] ? (32'd0 - sq) : sq) : acc;
            end else begin : g_nodiv
                assign res = acc;
            end
            always @(posedge clk) begin
                if (v1) begin
                    st1 <= d1;
                    st1b <= d1b;
                end
                if (v2) acc <= red;
                if (l3) out_vec[32*j +: 32] <= res;
            end
        end
    endgenerate
endmodule // tinyaccel_vpu
