// tinyaccel_dma_track: the DMA engine's FIFO of outstanding pieces (docs/architecture.md,
// "Pipelined DMA"). The request side pushes a piece in its request cycle, the beat side
// pops it after its last beat; `count` is the number of pieces in flight, so the request
// side may issue while `count < N`. One entry per slot (N = dma_outstanding), W bits:
// the piece's address, length, pad flag, last-piece flag and the cycle its first beat
// may come (request cycle + latency).
module tinyaccel_dma_track #(
    parameter N = 1,
    parameter W = 90
) (
    input  wire         clk,
    input  wire         rst,
    input  wire         push,
    input  wire [W-1:0] din,
    input  wire         pop,
    output wire [W-1:0] dout,
    output reg  [4:0]   count
);
    reg [W-1:0] mem [0:N-1];
    reg [4:0] rd, wr;
    assign dout = mem[{27'd0, rd}];
    always @(posedge clk) begin
        if (rst) begin
            rd <= 5'd0; wr <= 5'd0; count <= 5'd0;
        end else begin
            if (push) begin
                mem[{27'd0, wr}] <= din;
                wr <= ({27'd0, wr} + 32'd1 == N) ? 5'd0 : wr + 5'd1;
            end
            if (pop) rd <= ({27'd0, rd} + 32'd1 == N) ? 5'd0 : rd + 5'd1;
            count <= count + {4'd0, push} - {4'd0, pop};
        end
    end
endmodule // tinyaccel_dma_track
