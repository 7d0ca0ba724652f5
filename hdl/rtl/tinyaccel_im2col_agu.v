// tinyaccel_im2col_agu: the address generator of LOAD_IM2COL (docs/architecture.md,
// "Hardware im2col"). It walks the pieces of one LOAD_IM2COL tile, one piece per cycle:
// for each row r = 0..nrows-1 (output position t = ox0 + r) the columns c = 0..ncols-1
// (tap u = (ky0*kw + kx0)*in_c + ic0 + c), cut where c = 0, where ky changes, where kx
// changes if dw > 1 and where in-bounds-ness changes. A piece is either a bus piece (its
// taps are consecutive bytes from `p_addr`) or a pad piece (`p_pad`: every tap outside
// the image, no bus access).
//
// No divisions: the position (oy, ox) and the tap (ky, kx, ic) are counters that wrap
// (ox at out_w, ic at in_c, kx at kw); the command carries their start values. The run
// length of a piece is computed combinationally from the current tap, so a piece is
// available in the cycle `start` is high (the DMA engine's pick cycle) and after each
// `adv` (the DMA engine took the piece) the next one is there the cycle after.
//
// Window inputs are the CONV_GEOM registers in their encoded form (`*1` = value - 1).
// kh is not needed: the host check guarantees the last tap is < K.
module tinyaccel_im2col_agu (
    input  wire        clk,
    input  wire        rst,
    input  wire [31:0] g_addr,
    input  wire [11:0] g_in_h,
    input  wire [11:0] g_in_w,
    input  wire [15:0] g_in_c,
    input  wire [11:0] g_out_w,
    input  wire [3:0]  g_kw1,
    input  wire [3:0]  g_sh1,
    input  wire [3:0]  g_sw1,
    input  wire [3:0]  g_dh1,
    input  wire [3:0]  g_dw1,
    input  wire [3:0]  g_pad_t,
    input  wire [3:0]  g_pad_l,
    input  wire        start,
    input  wire [11:0] c_oy0,
    input  wire [11:0] c_ox0,
    input  wire [3:0]  c_ky0,
    input  wire [3:0]  c_kx0,
    input  wire [15:0] c_ic0,
    input  wire [15:0] c_nrows,
    input  wire [15:0] c_ncols,
    input  wire        adv,
    output wire        valid,
    output wire [31:0] p_addr,
    output wire [15:0] p_len,
    output wire        p_pad,
    output wire        p_last
);
    // State: the next piece's row and column, position and tap.
    reg        a_act;
    reg [15:0] a_r, a_c, a_ic;
    reg [16:0] a_oy;
    reg [11:0] a_ox;
    reg [3:0]  a_ky, a_kx;

    wire [15:0] r  = start ? 16'd0 : a_r;
    wire [15:0] c  = start ? 16'd0 : a_c;
    wire [16:0] oy = start ? {5'd0, c_oy0} : a_oy;
    wire [11:0] ox = start ? c_ox0 : a_ox;
    wire [3:0]  ky = start ? c_ky0 : a_ky;
    wire [3:0]  kx = start ? c_kx0 : a_kx;
    wire [15:0] ic = start ? c_ic0 : a_ic;

    // Narrow arithmetic (widths from the field ranges): oy < 2^17, ox < 2^12, strides and
    // dilations <= 16, pads <= 15. y and x are two's complement (24 and 20 bits) and may
    // be negative; the address is formed only from in-bounds (12-bit) y and x.
    wire [4:0]  sh = {1'b0, g_sh1} + 5'd1;
    wire [4:0]  sw = {1'b0, g_sw1} + 5'd1;
    wire [4:0]  dh = {1'b0, g_dh1} + 5'd1;
    wire [4:0]  dw = {1'b0, g_dw1} + 5'd1;
    wire [4:0]  kw = {1'b0, g_kw1} + 5'd1;
    wire [23:0] oys = {7'd0, oy} * {19'd0, sh};
    wire [23:0] kyd = {20'd0, ky} * {19'd0, dh};
    wire [19:0] oxs = {8'd0, ox} * {15'd0, sw};
    wire [19:0] kxd = {16'd0, kx} * {15'd0, dw};
    wire [23:0] y = oys + kyd - {20'd0, g_pad_t};
    wire [19:0] x = oxs + kxd - {16'd0, g_pad_l};
    wire        y_in = !y[23] && y < {12'd0, g_in_h};
    wire        x_neg = x[19];
    wire        x_in = !x_neg && x < {8'd0, g_in_w};

    // The kx where this piece's run of taps ends (exclusive), 0..16.
    reg [19:0] run;
    reg [4:0]  kx_end;
    wire [4:0] kx5 = {1'b0, kx};
    always @(*) begin
        run = 20'd0;
        if (g_dw1 != 4'd0) kx_end = kx5 + 5'd1;
        else if (!y_in) kx_end = kw;
        else begin
            if (x_neg) run = 20'd0 - x;                 // pad taps up to x = 0
            else if (x_in) run = {8'd0, g_in_w} - x;    // image taps up to x = in_w
            else run = {15'd0, kw};                     // right of the image: pad to the end
            kx_end = ({15'd0, kx5} + run < {15'd0, kw}) ? kx5 + run[4:0] : kw;
        end
    end
    wire [4:0]  kx_n = kx_end - kx5;
    wire [20:0] taps = {16'd0, kx_n} * {5'd0, g_in_c} - {5'd0, ic};
    wire [20:0] rem = {5'd0, c_ncols} - {5'd0, c};
    wire [20:0] len = (rem < taps) ? rem : taps;
    wire        row_done = len == rem;
    wire [23:0] pix = {12'd0, y[11:0]} * {12'd0, g_in_w} + {12'd0, x[11:0]};
    wire [31:0] off = {8'd0, pix} * {16'd0, g_in_c} + {16'd0, ic};

    assign valid = start || a_act;
    assign p_len = len[15:0];
    assign p_pad = !(y_in && x_in);
    assign p_addr = g_addr + off;
    assign p_last = row_done && r + 16'd1 == c_nrows;

    always @(posedge clk) begin
        if (rst) begin
            a_act <= 1'b0;
            a_r <= 16'd0; a_c <= 16'd0; a_ic <= 16'd0; a_oy <= 17'd0; a_ox <= 12'd0;
            a_ky <= 4'd0; a_kx <= 4'd0;
        end else if (adv && valid) begin
            a_act <= !p_last;
            if (row_done) begin
                a_r <= r + 16'd1;
                a_c <= 16'd0;
                a_ky <= c_ky0; a_kx <= c_kx0; a_ic <= c_ic0;
                if (ox + 12'd1 == g_out_w) begin
                    a_ox <= 12'd0; a_oy <= oy + 17'd1;
                end else begin
                    a_ox <= ox + 12'd1; a_oy <= oy;
                end
            end else begin
                a_r <= r;
                a_c <= c + len[15:0];
                a_ic <= 16'd0;
                a_ox <= ox; a_oy <= oy;
                if (kx_end == kw) begin
                    a_kx <= 4'd0; a_ky <= ky + 4'd1;
                end else begin
                    a_kx <= kx_end[3:0]; a_ky <= ky;
                end
            end
        end else if (start) begin
            a_act <= 1'b1;
            a_r <= r; a_c <= c; a_ic <= ic; a_oy <= oy; a_ox <= ox; a_ky <= ky; a_kx <= kx;
        end
    end
endmodule // tinyaccel_im2col_agu
